/* ftfy.c — ftfy's fix_text(), as CLIP's tokenizers run it
 *
 * OpenAI's and open_clip's tokenizers pass every text through ftfy 6's
 * fix_text() with its default configuration before anything else. This is
 * that function, step for step:
 *
 *   - the text is cut into lines (each keeping its '\n'), and lines into
 *     pieces of at most a million characters; from the first line that
 *     holds a '<' on, HTML entities are left alone;
 *   - each piece is fixed until it no longer changes: HTML entities,
 *     mojibake, C1 controls, Latin ligatures, character width, curly
 *     quotes, line breaks, terminal escapes, control characters, NFC.
 *
 * Mojibake repair encodes the text in one of ten single-byte code pages
 * and decodes the bytes as UTF-8, but only when a heuristic finds
 * character sequences that are far likelier mojibake than intended text,
 * and only when the whole text then decodes. Where that fails, sequences
 * that look like UTF-8 read as Latin-1 are fixed one by one.
 *
 * Text is handled as an array of code points, as Python handles it; the
 * character classes, code pages and entity names are in ftfy-tables.h.
 * Python strings may hold lone surrogates, which ftfy's fix_surrogates()
 * pairs up; valid UTF-8 cannot, and nothing here makes one, so that step
 * has nothing to do.
 */
#include "ftfy.h"

#include <stdlib.h>
#include <string.h>

#include "ftfy-tables.h"

/* ftfy's max_decode_length: longer lines are fixed in pieces this long. */
#define MAX_DECODE_LENGTH 1000000

/* ------------------------------------------------------------ strings */

typedef struct
{
  gunichar *c;
  gsize     len;
  gsize     cap;
} UString;

static void
ustr_reserve (UString *s,
              gsize    extra)
{
  if (s->len + extra <= s->cap)
    return;
  s->cap = MAX (s->len + extra, 2 * s->cap);
  s->c = g_renew (gunichar, s->c, s->cap);
}

static void
ustr_append (UString  *s,
             gunichar  c)
{
  ustr_reserve (s, 1);
  s->c[s->len++] = c;
}

static void
ustr_append_n (UString        *s,
               const gunichar *c,
               gsize           n)
{
  if (n == 0)
    return;
  ustr_reserve (s, n);
  memcpy (s->c + s->len, c, n * sizeof (gunichar));
  s->len += n;
}

static void
ustr_append_utf8 (UString    *s,
                  const char *utf8)
{
  for (const char *p = utf8; *p != '\0'; p = g_utf8_next_char (p))
    ustr_append (s, g_utf8_get_char (p));
}

static void
ustr_clear (UString *s)
{
  g_clear_pointer (&s->c, g_free);
  s->len = s->cap = 0;
}

/* Moves @from into @to, freeing what @to held. */
static void
ustr_take (UString *to,
           UString *from)
{
  g_free (to->c);
  *to = *from;
  *from = (UString) { NULL, 0, 0 };
}

static gboolean
ustr_has (const UString *s,
          gunichar       c)
{
  for (gsize i = 0; i < s->len; i++)
    if (s->c[i] == c)
      return TRUE;
  return FALSE;
}

/* Ends a rewrite of @s into @out: @out replaces @s if @changed. */
static gboolean
ustr_replace (UString  *s,
              UString  *out,
              gboolean  changed)
{
  if (changed)
    ustr_take (s, out);
  ustr_clear (out);
  return changed;
}

static gboolean
ustr_equal (const UString *a,
            const UString *b)
{
  return a->len == b->len && (a->len == 0 || memcmp (a->c, b->c, a->len * sizeof (gunichar)) == 0);
}

static UString
ustr_from_utf8 (const char *text,
                gsize       length)
{
  UString s = { NULL, 0, 0 };
  const char *end = text + length;

  ustr_reserve (&s, length);
  for (const char *p = text; p < end; p = g_utf8_next_char (p))
    s.c[s.len++] = g_utf8_get_char (p);
  return s;
}

static char *
ustr_to_utf8 (const gunichar *c,
              gsize           n,
              gsize          *length)
{
  GString *out = g_string_sized_new (n + 1);

  for (gsize i = 0; i < n; i++)
    g_string_append_unichar (out, c[i]);
  if (length != NULL)
    *length = out->len;
  return g_string_free (out, FALSE);
}

/* ------------------------------------------------------------ classes */

/* Finds @c in a table of @n entries of @size bytes, sorted by the
 * code point each starts with; returns the entry or NULL. */
static const void *
find_code_point (const void *table,
                 gsize       n,
                 gsize       size,
                 gunichar    c)
{
  gsize lo = 0, hi = n;

  while (lo < hi)
    {
      gsize mid = (lo + hi) / 2;
      const guint8 *entry = (const guint8 *) table + mid * size;
      guint32 key;

      memcpy (&key, entry, sizeof key);
      if (key == c)
        return entry;
      if (key < c)
        lo = mid + 1;
      else
        hi = mid;
    }
  return NULL;
}

/* The index of @c in ftfy_classes, or -1. */
static gssize
class_index (gunichar c)
{
  const FtfyClass *entry;

  if (c < 0x20)
    return -1;
  entry = find_code_point (ftfy_classes, G_N_ELEMENTS (ftfy_classes), sizeof ftfy_classes[0], c);
  return entry != NULL ? entry - ftfy_classes : -1;
}

static guint32
class_bits (gunichar c)
{
  gssize i = class_index (c);

  return i >= 0 ? ftfy_classes[i].bits : 0;
}

/* Python's \s: str.isspace(). */
static gboolean
is_space (gunichar c)
{
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0
         || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029
         || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Python's \w: letters, numbers and the underscore. */
static gboolean
is_word (gunichar c)
{
  if (c < 0x80)
    return g_ascii_isalnum (c) || c == '_';
  switch (g_unichar_type (c))
    {
    case G_UNICODE_LOWERCASE_LETTER:
    case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_OTHER_LETTER:
    case G_UNICODE_TITLECASE_LETTER:
    case G_UNICODE_UPPERCASE_LETTER:
    case G_UNICODE_DECIMAL_NUMBER:
    case G_UNICODE_LETTER_NUMBER:
    case G_UNICODE_OTHER_NUMBER:
      return TRUE;
    default:
      return FALSE;
    }
}

/* ------------------------------------------------------------ badness */

/* One character class of the heuristic: the classes of ftfy-tables.h in
 * @bits, literal characters in @chars, and the tests in @flags. */
enum {
  LOWER_AZ  = 1 << 0,  /* [a-z] */
  UPPER_AZ  = 1 << 1,  /* [A-Z] */
  SPACE     = 1 << 2,  /* \s */
  WORD      = 1 << 3,  /* \w */
  NOT_NL    = 1 << 4,  /* . */
  NOT_AZ    = 1 << 5,  /* [^A-Za-z] */
};

typedef struct
{
  guint32     bits;
  const char *chars;
  guint       flags;
} CharClass;

#define MAX_PATTERN 7

/* A sequence of classes that marks mojibake wherever it occurs, or at the
 * start of the text only when @at_start. */
typedef struct
{
  CharClass cls[MAX_PATTERN];
  gboolean  at_start;
} Pattern;

/* Shorthands for the unions of classes that the patterns use. */
#define LA FTFY_LOWER_ACCENTED
#define UA FTFY_UPPER_ACCENTED
#define BX FTFY_BOX
#define SP FTFY_START_PUNCT
#define EP FTFY_END_PUNCT
#define CU FTFY_CURRENCY
#define NU FTFY_NUMERIC
#define LW FTFY_LAW
#define BD FTFY_BAD
#define C1 FTFY_C1
#define LC FTFY_LOWER_COMMON
#define UC FTFY_UPPER_COMMON
#define KA FTFY_KAOMOJI
#define CM FTFY_COMMON

#define BITS(b)  { (b), NULL, 0 }
#define CHARS(s) { 0, (s), 0 }

/* ftfy's list of unlikely juxtapositions; any one of them anywhere makes
 * a text "bad". */
static const Pattern patterns[] = {
  { { BITS (C1) } },
  { { BITS (BD | LA | UA | BX | SP | EP | CU | NU | LW), BITS (BD) } },
  { { { 0, NULL, LOWER_AZ | UPPER_AZ }, BITS (LC | UC), BITS (BD) } },
  { { BITS (BD), BITS (LA | UA | BX | SP | EP | CU | NU | LW) } },
  { { BITS (LA | LC | BX | EP | CU | NU), BITS (UA) } },
  { { BITS (BX | EP | CU | NU), BITS (LA) } },
  { { BITS (LA | BX | EP), BITS (CU) } },
  { { { 0, NULL, SPACE }, BITS (UA), BITS (CU) } },
  { { BITS (UA | BX), BITS (NU | LW) } },
  { { BITS (LA | UA | BX | CU | EP), BITS (SP), BITS (NU) } },
  { { BITS (LA | UA | CU | NU | BX | LW), BITS (EP), BITS (SP) } },
  { { BITS (CU | NU | BX), BITS (SP) } },
  { { { 0, NULL, LOWER_AZ }, BITS (UA), BITS (SP | CU) } },
  { { BITS (BX), BITS (KA) } },
  { { BITS (LA | UA | CU | NU | SP | EP | LW), BITS (BX) } },
  { { BITS (BX), BITS (EP) } },
  { { BITS (LA | UA), BITS (SP | EP), { 0, NULL, WORD } } },
  /* œ not followed by an unaccented Latin letter */
  { { CHARS ("Œœ"), { 0, NULL, NOT_AZ } } },
  /* degree signs after capital letters */
  { { BITS (UA), CHARS ("°") } },
  /* common Windows-1252 two-character mojibake */
  { { CHARS ("ÂÃÎÐ"), { SP | EP, "€œŠš¢£Ÿž\u00a0\u00ad®©°·»–—´", 0 } } },
  { { CHARS ("×"), CHARS ("²³") } },
  /* Windows-1252 mojibake of Arabic, four characters long */
  { { CHARS ("ØÙ"), { CM | CU | BD | NU | SP, "ŸŠ®°µ»", 0 },
      CHARS ("ØÙ"), { CM | CU | BD | NU | SP, "ŸŠ®°µ»", 0 } } },
  /* Windows-1252 mojibake of some South Asian scripts */
  { { CHARS ("à"), CHARS ("²µ¹¼½¾") } },
  /* MacRoman mojibake */
  { { CHARS ("√"), CHARS ("±∂†≠®™´≤≥¥µø") } },
  { { CHARS ("≈"), CHARS ("°¢") } },
  { { CHARS ("‚"), CHARS ("Ä"), CHARS ("ìîïòôúùû†°¢π") } },
  { { CHARS ("‚"), CHARS ("âó"), CHARS ("àä°ê") } },
  /* Windows-1251 mojibake */
  { { CHARS ("в"), CHARS ("Ђ") } },
  { { CHARS ("ВГРС"), { C1 | BD | SP | EP | CU, "°µ", 0 }, CHARS ("ВГРС") } },
  { { CHARS ("Г"), CHARS ("ў"), CHARS ("В"), CHARS ("Ђ"), CHARS ("В"), { 0, NULL, NOT_NL },
      { 0, " ", LOWER_AZ | UPPER_AZ } } },
  /* Windows-1252 encodings of 'à', 'á' and U+00A0 itself */
  { { CHARS ("Ã"), CHARS ("\u00a0¡") } },
  { { { 0, NULL, LOWER_AZ }, CHARS ("ÃÂ"), CHARS (" ") } },
  { { { 0, NULL, LOWER_AZ }, { 0, NULL, SPACE }, CHARS ("ÃÂ"), CHARS (" ") } },
  { { CHARS ("ÃÂ"), CHARS (" ") }, TRUE },
  /* Â as the encoding of the character after it */
  { { { EP, ".,?!", LOWER_AZ }, CHARS ("Â"), { SP | EP, " ", 0 } } },
  /* Windows-1253 mojibake */
  { { CHARS ("β"), CHARS ("€"), CHARS ("™\u00a0Ά\u00ad®°") } },
  { { CHARS ("ΒΓΞΟ"), { C1 | BD | SP | EP | CU, "°", 0 }, CHARS ("ΒΓΞΟ") } },
  /* Windows-1257 mojibake */
  { { CHARS ("ā"), CHARS ("€") } },
};

/* What the patterns ask of a character: its classes, and which of the
 * literal sets hold it, one bit per set (init() numbers them). */
typedef struct
{
  guint32 bits;
  guint64 literals;
} CharInfo;

#define MAX_LITERAL_SETS 64

static guint64 literal_masks[G_N_ELEMENTS (ftfy_classes)];
static guint64 ascii_literals[128];
static guint64 pattern_literals[G_N_ELEMENTS (patterns)][MAX_PATTERN];
static guint8 pattern_lengths[G_N_ELEMENTS (patterns)];

/* Characters below this have their CharInfo in a table. */
#define DIRECT_INFO 0x500

static CharInfo direct_info[DIRECT_INFO];

/* Which patterns can start with a character of each class, of each
 * literal set, or with an ASCII letter or white space. */
static guint64 starts_by_class[32];
static guint64 starts_by_literal[MAX_LITERAL_SETS];
static guint64 starts_by_flags;

static CharInfo
lookup_char_info (gunichar c)
{
  gssize i = class_index (c);
  CharInfo info = { 0, c < 0x80 ? ascii_literals[c] : 0 };

  if (i >= 0)
    {
      info.bits = ftfy_classes[i].bits;
      info.literals |= literal_masks[i];
    }
  return info;
}

static CharInfo
char_info (gunichar c)
{
  return c < DIRECT_INFO ? direct_info[c] : lookup_char_info (c);
}

static gboolean
class_has (const CharClass *cls,
           guint64          literal,
           gunichar         c,
           CharInfo         info)
{
  if ((cls->bits & info.bits) != 0 || (literal & info.literals) != 0)
    return TRUE;
  if (cls->flags == 0)
    return FALSE;
  if ((cls->flags & LOWER_AZ) && c >= 'a' && c <= 'z')
    return TRUE;
  if ((cls->flags & UPPER_AZ) && c >= 'A' && c <= 'Z')
    return TRUE;
  if ((cls->flags & SPACE) && is_space (c))
    return TRUE;
  if ((cls->flags & WORD) && is_word (c))
    return TRUE;
  if ((cls->flags & NOT_NL) && c != '\n')
    return TRUE;
  return (cls->flags & NOT_AZ) && !g_ascii_isalpha (c);
}

static gsize
pattern_length (const Pattern *p)
{
  gsize n = 0;

  while (n < MAX_PATTERN && (p->cls[n].bits != 0 || p->cls[n].chars != NULL
                             || p->cls[n].flags != 0))
    n++;
  return n;
}

/* Numbers the distinct literal sets of the patterns and marks their
 * characters; every non-ASCII one is among the classed characters. */
static void
init_literals (void)
{
  const char *sets[MAX_LITERAL_SETS];
  gsize n_sets = 0;

  G_STATIC_ASSERT (G_N_ELEMENTS (patterns) <= 64);
  for (gsize k = 0; k < G_N_ELEMENTS (patterns); k++)
    {
      pattern_lengths[k] = pattern_length (&patterns[k]);
      for (int b = 0; b < 32; b++)
        if (patterns[k].cls[0].bits & (1u << b))
          starts_by_class[b] |= G_GUINT64_CONSTANT (1) << k;
      if (patterns[k].cls[0].flags != 0)
        starts_by_flags |= G_GUINT64_CONSTANT (1) << k;
      for (gsize j = 0; j < pattern_lengths[k]; j++)
        {
          const char *chars = patterns[k].cls[j].chars;
          gsize set = 0;

          if (chars == NULL)
            continue;
          while (set < n_sets && strcmp (sets[set], chars) != 0)
            set++;
          if (set == n_sets)
            {
              g_assert (n_sets < MAX_LITERAL_SETS);
              sets[n_sets++] = chars;
            }
          pattern_literals[k][j] = G_GUINT64_CONSTANT (1) << set;
          if (j == 0)
            starts_by_literal[set] |= G_GUINT64_CONSTANT (1) << k;
          for (const char *p = chars; *p != '\0'; p = g_utf8_next_char (p))
            {
              gunichar c = g_utf8_get_char (p);
              gssize i = class_index (c);

              if (c < 0x80)
                ascii_literals[c] |= pattern_literals[k][j];
              else
                {
                  g_assert (i >= 0);
                  literal_masks[i] |= pattern_literals[k][j];
                }
            }
        }
    }
  for (gunichar c = 0; c < DIRECT_INFO; c++)
    direct_info[c] = lookup_char_info (c);
}

static gboolean
pattern_matches (gsize           k,
                 const gunichar *s,
                 gsize           n,
                 gsize           at,
                 CharInfo        first)
{
  const Pattern *p = &patterns[k];
  gsize len = pattern_lengths[k];

  if ((p->at_start && at != 0) || at + len > n
      || !class_has (&p->cls[0], pattern_literals[k][0], s[at], first))
    return FALSE;
  for (gsize j = 1; j < len; j++)
    if (!class_has (&p->cls[j], pattern_literals[k][j], s[at + j], char_info (s[at + j])))
      return FALSE;
  return TRUE;
}

/* Whether any of ftfy's patterns matches in @s: its is_bad(). */
static gboolean
is_bad (const gunichar *s,
        gsize           n)
{
  for (gsize i = 0; i < n; i++)
    {
      gunichar c = s[i];
      CharInfo info = char_info (c);

      guint64 candidates = 0;

      /* Patterns that start with an ASCII character have a non-ASCII one
       * next or after one space. */
      if (c < 0x80 && (i + 1 >= n || s[i + 1] < 0x80) && (i + 2 >= n || s[i + 2] < 0x80))
        continue;
      for (guint32 b = info.bits; b != 0; b &= b - 1)
        candidates |= starts_by_class[__builtin_ctz (b)];
      for (guint64 l = info.literals; l != 0; l &= l - 1)
        candidates |= starts_by_literal[__builtin_ctzll (l)];
      if ((c < 0x80 && g_ascii_isalpha (c)) || is_space (c))
        candidates |= starts_by_flags;
      for (; candidates != 0; candidates &= candidates - 1)
        if (pattern_matches (__builtin_ctzll (candidates), s, n, i, info))
          return TRUE;
    }
  return FALSE;
}

/* ------------------------------------------------------------ code pages */

typedef struct
{
  guint32 c;
  guint32 byte;
} Reverse;

static Reverse reverse[FTFY_N_ENCODINGS][128];

static int
compare_reverse (const void *a,
                 const void *b)
{
  guint32 x = ((const Reverse *) a)->c, y = ((const Reverse *) b)->c;

  return (x > y) - (x < y);
}

/* Sorts the code pages for encoding and measures the patterns. */
static void
init (void)
{
  static gsize done = 0;

  if (!g_once_init_enter (&done))
    return;
  for (int e = 0; e < FTFY_N_ENCODINGS; e++)
    {
      for (int b = 0; b < 128; b++)
        reverse[e][b] = (Reverse) { ftfy_encodings[e].high[b], 0x80 + b };
      qsort (reverse[e], 128, sizeof (Reverse), compare_reverse);
    }
  init_literals ();
  g_once_init_leave (&done, 1);
}

/* The byte that @c encodes to in code page @e, or -1. */
static int
encode_char (int      e,
             gunichar c)
{
  const Reverse *entry;

  if (c < 0x80 && c != 0x1a)
    return (int) c;
  if (c == ftfy_encodings[e].byte_1a)
    return 0x1a;
  entry = find_code_point (reverse[e], 128, sizeof (Reverse), c);
  return entry != NULL ? (int) entry->byte : -1;
}

/* Encodes @s in code page @e; FALSE if some character has no byte. */
static gboolean
encode (int             e,
        const gunichar *s,
        gsize           n,
        GByteArray     *out)
{
  g_byte_array_set_size (out, n);
  for (gsize i = 0; i < n; i++)
    {
      int b = encode_char (e, s[i]);

      if (b < 0)
        return FALSE;
      out->data[i] = (guint8) b;
    }
  return TRUE;
}

/* ------------------------------------------------------------ byte fixes */

static gboolean
in_range (const guint8 *b,
          gsize         n,
          gsize         i,
          guint8        lo,
          guint8        hi)
{
  return i < n && b[i] >= lo && b[i] <= hi;
}

static gboolean
is_byte (const guint8 *b,
         gsize         n,
         gsize         i,
         guint8        value)
{
  return i < n && b[i] == value;
}

/* [\x80-\x84\x86-\x9f\xa1-\xbf]: a continuation byte, not 0x85 or 0xA0. */
static gboolean
is_plain_continuation (const guint8 *b,
                       gsize         n,
                       gsize         i)
{
  return in_range (b, n, i, 0x80, 0xbf) && b[i] != 0x85 && b[i] != 0xa0;
}

/* The length of the sequence at @i where a space probably stood for byte
 * 0xA0 of UTF-8, or 0. */
static gsize
altered_utf8_at (const guint8 *b,
                 gsize         n,
                 gsize         i)
{
  guint8 c = b[i];

  if ((c == 0xc2 || c == 0xc3 || c == 0xc5 || c == 0xce || c == 0xd0 || c == 0xd9)
      && is_byte (b, n, i + 1, ' '))
    return 2;
  if ((c == 0xe2 || c == 0xe3) && is_byte (b, n, i + 1, ' ') && is_plain_continuation (b, n, i + 2))
    return 3;
  if (c >= 0xe0 && c <= 0xe3 && is_plain_continuation (b, n, i + 1) && is_byte (b, n, i + 2, ' '))
    return 3;
  if (c == 0xf0 && i + 3 < n)
    {
      int spaces = 0, continuations = 0;

      for (gsize k = 1; k <= 3; k++)
        {
          spaces += b[i + k] == ' ';
          continuations += b[i + k] >= 0x80 && b[i + k] <= 0xbf;
        }
      if (spaces == 1 && continuations == 2)
        return 4;
    }
  return 0;
}

static gboolean
has_altered_utf8 (const GByteArray *bytes)
{
  for (gsize i = 0; i < bytes->len; i++)
    if (altered_utf8_at (bytes->data, bytes->len, i) > 0)
      return TRUE;
  return FALSE;
}

static gboolean
has_prefix_at (const guint8 *b,
               gsize         n,
               gsize         i,
               const char   *prefix)
{
  gsize len = strlen (prefix);

  return i + len <= n && memcmp (b + i, prefix, len) == 0;
}

/* ftfy's restore_byte_a0(): first "\xC3 " becomes "\xC3\xA0 " unless
 * what follows makes it a Portuguese "às", "àquele" and so on, or another
 * space; then spaces inside the sequences above become 0xA0. */
static void
restore_byte_a0 (GByteArray *bytes)
{
  g_autoptr(GByteArray) a = g_byte_array_sized_new (bytes->len + 16);
  const guint8 *b = bytes->data;
  gsize n = bytes->len;

  for (gsize i = 0; i < n; i++)
    {
      static const char *const keep[] = { " ", "quele", "quela", "quilo", "s " };
      gboolean grave = b[i] == 0xc3 && is_byte (b, n, i + 1, ' ');

      for (gsize k = 0; grave && k < G_N_ELEMENTS (keep); k++)
        if (has_prefix_at (b, n, i + 2, keep[k]))
          grave = FALSE;
      g_byte_array_append (a, &b[i], 1);
      if (grave)
        {
          g_byte_array_append (a, (const guint8 *) "\xa0 ", 2);
          i++;
        }
    }

  g_byte_array_set_size (bytes, 0);
  for (gsize i = 0; i < a->len; )
    {
      gsize len = altered_utf8_at (a->data, a->len, i);

      if (len == 0)
        len = 1;
      for (gsize k = 0; k < len; k++)
        {
          guint8 c = (len > 1 && a->data[i + k] == ' ') ? 0xa0 : a->data[i + k];

          g_byte_array_append (bytes, &c, 1);
        }
      i += len;
    }
}

/* The byte classes of the lossy pattern: [\x1a?], a lost byte;
 * [\x1a\x80-\xbf], lost or a continuation; [\x1a?\x80-\xbf], any of
 * the three. */
static gboolean
lost (const guint8 *b,
      gsize         n,
      gsize         i)
{
  return is_byte (b, n, i, 0x1a) || is_byte (b, n, i, '?');
}

static gboolean
lost_or_cont (const guint8 *b,
              gsize         n,
              gsize         i)
{
  return is_byte (b, n, i, 0x1a) || in_range (b, n, i, 0x80, 0xbf);
}

static gboolean
any_of_three (const guint8 *b,
              gsize         n,
              gsize         i)
{
  return lost (b, n, i) || in_range (b, n, i, 0x80, 0xbf);
}

/* The length of a UTF-8 sequence at @i that lost bytes to U+FFFD (byte
 * 0x1A here) or '?', or 0. */
static gsize
lossy_at (const guint8 *b,
          gsize         n,
          gsize         i)
{
  guint8 c = b[i];

  if (c >= 0xc2 && c <= 0xdf && is_byte (b, n, i + 1, 0x1a))
    return 2;
  if ((c == 0xc2 || c == 0xc3) && is_byte (b, n, i + 1, '?'))
    return 2;
  if (c == 0xed && in_range (b, n, i + 1, 0xa0, 0xaf) && is_byte (b, n, i + 3, 0xed)
      && in_range (b, n, i + 4, 0xb0, 0xbf))
    {
      if (lost (b, n, i + 2) && any_of_three (b, n, i + 5))
        return 6;
      if (any_of_three (b, n, i + 2) && lost (b, n, i + 5))
        return 6;
    }
  if (c >= 0xe0 && c <= 0xef)
    {
      if (lost (b, n, i + 1) && lost_or_cont (b, n, i + 2))
        return 3;
      if (lost_or_cont (b, n, i + 1) && lost (b, n, i + 2))
        return 3;
    }
  if (c >= 0xf0 && c <= 0xf4)
    for (gsize k = 1; k <= 3; k++)
      {
        gboolean ok = TRUE;

        for (gsize j = 1; j <= 3; j++)
          ok = ok && (j == k ? lost (b, n, i + j) : lost_or_cont (b, n, i + j));
        if (ok)
          return 4;
      }
  return c == 0x1a ? 1 : 0;
}

/* ftfy's replace_lossy_sequences(): such sequences become U+FFFD. */
static void
replace_lossy_sequences (GByteArray *bytes)
{
  g_autoptr(GByteArray) out = g_byte_array_sized_new (bytes->len + 16);

  for (gsize i = 0; i < bytes->len; )
    {
      gsize len = lossy_at (bytes->data, bytes->len, i);

      if (len > 0)
        {
          g_byte_array_append (out, (const guint8 *) "\xef\xbf\xbd", 3);
          i += len;
        }
      else
        g_byte_array_append (out, &bytes->data[i++], 1);
    }
  g_byte_array_set_size (bytes, 0);
  g_byte_array_append (bytes, out->data, out->len);
}

/* ------------------------------------------------------------ decoding */

/* Decodes one standard UTF-8 sequence at @i as Python does, refusing
 * overlong forms, surrogates and values past U+10FFFF. Returns its length
 * or 0. */
static gsize
decode_utf8_char (const guint8 *b,
                  gsize         n,
                  gsize         i,
                  gunichar     *out)
{
  guint8 c = b[i];
  gsize len;
  guint8 lo = 0x80, hi = 0xbf;
  gunichar value;

  if (c < 0x80)
    {
      *out = c;
      return 1;
    }
  if (c >= 0xc2 && c <= 0xdf)
    len = 2, value = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef)
    {
      len = 3, value = c & 0x0f;
      if (c == 0xe0)
        lo = 0xa0;
      else if (c == 0xed)
        hi = 0x9f;
    }
  else if (c >= 0xf0 && c <= 0xf4)
    {
      len = 4, value = c & 0x07;
      if (c == 0xf0)
        lo = 0x90;
      else if (c == 0xf4)
        hi = 0x8f;
    }
  else
    return 0;

  if (!in_range (b, n, i + 1, lo, hi))
    return 0;
  for (gsize k = 1; k < len; k++)
    {
      if (!in_range (b, n, i + k, 0x80, 0xbf))
        return 0;
      value = value << 6 | (b[i + k] & 0x3f);
    }
  *out = value;
  return len;
}

/* ftfy's "utf-8-variants": UTF-8 that also accepts CESU-8's six-byte
 * surrogate pairs and Java's 0xC0 0x80 for U+0000. Like ftfy's codec,
 * which matches those forms with regular expressions whose '$' also
 * matches before a final '\n', it lets that '\n' stand for their last
 * byte. Returns FALSE where Python would raise UnicodeDecodeError. */
static gboolean
decode_utf8_variants (const GByteArray *bytes,
                      UString          *out)
{
  const guint8 *b = bytes->data;
  gsize n = bytes->len;

  out->len = 0;
  ustr_reserve (out, n);
  for (gsize i = 0; i < n; )
    {
      gboolean last_is_nl = (i + 2 == n || (n >= 6 && i + 6 == n)) && b[n - 1] == '\n';
      gunichar c;
      gsize len;

      if (b[i] == 0xc0 && (is_byte (b, n, i + 1, 0x80) || (i + 2 == n && last_is_nl)))
        {
          out->c[out->len++] = 0;
          i += 2;
          continue;
        }
      if (b[i] == 0xed && in_range (b, n, i + 1, 0xa0, 0xbf))
        {
          /* \xed[\xa0-\xaf][\x80-\xbf]\xed[\xb0-\xbf][\x80-\xbf] */
          if (i + 6 > n || b[i + 1] > 0xaf || !in_range (b, n, i + 2, 0x80, 0xbf)
              || b[i + 3] != 0xed || !in_range (b, n, i + 4, 0xb0, 0xbf)
              || !(in_range (b, n, i + 5, 0x80, 0xbf) || (i + 6 == n && last_is_nl)))
            return FALSE;
          out->c[out->len++] = 0x10000 + ((b[i + 1] & 0x0f) << 16) + ((b[i + 2] & 0x3f) << 10)
                               + ((b[i + 4] & 0x0f) << 6) + (b[i + 5] & 0x3f);
          i += 6;
          continue;
        }
      len = decode_utf8_char (b, n, i, &c);
      if (len == 0)
        return FALSE;
      out->c[out->len++] = c;
      i += len;
    }
  return TRUE;
}

/* ------------------------------------------------------------ mojibake */

static void fix_encoding (UString *s);

/* ftfy's fix_c1_controls(): C1 controls read as Windows-1252 does, the
 * five bytes it leaves unassigned staying as they are. */
static gboolean
fix_c1_controls (UString *s)
{
  gboolean changed = FALSE;

  for (gsize i = 0; i < s->len; i++)
    if (s->c[i] >= 0x80 && s->c[i] <= 0x9f)
      {
        gunichar c = ftfy_encodings[FTFY_SLOPPY_1252].high[s->c[i] - 0x80];

        changed |= c != s->c[i];
        s->c[i] = c;
      }
  return changed;
}

/* The end of a run of what looks like UTF-8 read in a Latin-1-like code
 * page, starting at @at, or @at where none starts. */
static gsize
utf8_run_end (const gunichar *s,
              gsize           n,
              gsize           at)
{
  static const guint32 leads[] = { FTFY_FIRST_OF_2, FTFY_FIRST_OF_3, FTFY_FIRST_OF_4 };
  gsize p = at;

  if (at > 0 && (class_bits (s[at - 1]) & FTFY_CONTINUATION_STRICT))
    return at;
  while (p < n)
    {
      guint32 bits = class_bits (s[p]);
      gsize next = p;

      for (gsize k = 0; k < G_N_ELEMENTS (leads) && next == p; k++)
        {
          gsize len = k + 2;
          gboolean ok = (bits & leads[k]) && p + len <= n;

          for (gsize j = 1; ok && j < len; j++)
            ok = (class_bits (s[p + j]) & FTFY_CONTINUATION) != 0;
          if (ok)
            next = p + len;
        }
      if (next == p)
        break;
      p = next;
    }
  return p;
}

/* ftfy's decode_inconsistent_utf8(): each such run that is itself bad
 * and shorter than the text is fixed on its own. */
static gboolean
decode_inconsistent_utf8 (UString *s)
{
  UString out = { NULL, 0, 0 };
  gboolean changed = FALSE;

  for (gsize i = 0; i < s->len; )
    {
      gsize end = utf8_run_end (s->c, s->len, i);

      if (end == i)
        {
          ustr_append (&out, s->c[i++]);
          continue;
        }
      if (end - i < s->len && is_bad (s->c + i, end - i))
        {
          UString piece = { NULL, 0, 0 };

          ustr_append_n (&piece, s->c + i, end - i);
          fix_encoding (&piece);
          changed |= piece.len != end - i
                     || memcmp (piece.c, s->c + i, piece.len * sizeof (gunichar)) != 0;
          ustr_append_n (&out, piece.c, piece.len);
          ustr_clear (&piece);
        }
      else
        ustr_append_n (&out, s->c + i, end - i);
      i = end;
    }
  return ustr_replace (s, &out, changed);
}

static gboolean
has_utf8_run (const UString *s)
{
  for (gsize i = 0; i < s->len; i++)
    if (utf8_run_end (s->c, s->len, i) > i)
      return TRUE;
  return FALSE;
}

/* One step of ftfy's fix_encoding(); returns whether @s changed. */
static gboolean
fix_encoding_step (UString *s)
{
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  gboolean ascii = TRUE;
  UString decoded = { NULL, 0, 0 };

  for (gsize i = 0; i < s->len && ascii; i++)
    ascii = s->c[i] < 0x80;
  if (ascii || !is_bad (s->c, s->len))
    return FALSE;

  for (int e = 0; e < FTFY_N_ENCODINGS; e++)
    {
      if (!encode (e, s->c, s->len, bytes))
        continue;
      if (e != FTFY_MACROMAN && has_altered_utf8 (bytes))
        restore_byte_a0 (bytes);
      if (ftfy_encodings[e].sloppy)
        replace_lossy_sequences (bytes);
      if (decode_utf8_variants (bytes, &decoded))
        {
          /* The first decoding that works is taken, even when it gives
           * the same text back (as "\ufffd" does), which ends the fixing. */
          gboolean changed = !ustr_equal (s, &decoded);

          ustr_take (s, &decoded);
          return changed;
        }
    }
  ustr_clear (&decoded);

  if (has_utf8_run (s) && decode_inconsistent_utf8 (s))
    return TRUE;

  /* ftfy then reads Latin-1 text as strict Windows-1252 and otherwise
   * fixes C1 controls; both come to fix_c1_controls(), as the first fails
   * only where some C1 control has no Windows-1252 reading, which
   * fix_c1_controls() leaves as it is. */
  return fix_c1_controls (s);
}

static void
fix_encoding (UString *s)
{
  while (fix_encoding_step (s))
    ;
}

/* ------------------------------------------------------------ other fixes */

static gboolean
is_entity_char (gunichar c)
{
  return c < 0x80 && g_ascii_isalnum (c);
}

static int
compare_entity (const void *key,
                const void *entry)
{
  return strcmp (key, ((const FtfyEntity *) entry)->name);
}

static const char *
lookup_entity (const char *name)
{
  const FtfyEntity *entry =
    bsearch (name, ftfy_entities, G_N_ELEMENTS (ftfy_entities), sizeof ftfy_entities[0],
             compare_entity);

  return entry != NULL ? entry->value : NULL;
}

gboolean
clipscope_html_numeric_reference (guint64   value,
                                  gunichar *c)
{
  if (value == 0 || (value >= 0xd800 && value <= 0xdfff) || value > 0x10ffff)
    *c = 0xfffd;
  else if (value >= 0x80 && value <= 0x9f)
    *c = ftfy_encodings[FTFY_SLOPPY_1252].high[value - 0x80];
  else if (value == '\r')
    *c = '\r';
  else if ((value >= 0x01 && value <= 0x08) || value == 0x0b || (value >= 0x0e && value <= 0x1f)
           || value == 0x7f || (value >= 0xfdd0 && value <= 0xfdef) || (value & 0xfffe) == 0xfffe)
    return FALSE;
  else
    *c = (gunichar) value;
  return TRUE;
}

/* The reference &#@ref; (@len characters between "&#" and ';') as
 * ftfy reads it: Python's html.unescape() of it, unless that leaves a
 * ';' — when the digits stop short of it, or the value is ';' itself.
 * Returns FALSE to keep the reference as written. */
static gboolean
numeric_reference (const gunichar *ref,
                   gsize           len,
                   UString        *out)
{
  gboolean hex = ref[0] == 'x' || ref[0] == 'X';
  guint64 value = 0;
  gunichar c;

  if (len == (hex ? 1u : 0u))
    return FALSE;
  for (gsize i = hex ? 1 : 0; i < len; i++)
    {
      gunichar d = ref[i];

      if (hex ? !g_ascii_isxdigit (d) : !g_ascii_isdigit (d))
        return FALSE;
      value = MIN (value * (hex ? 16 : 10) + (guint64) g_ascii_xdigit_value (d), 0x110000);
    }
  if (!clipscope_html_numeric_reference (value, &c))
    return TRUE;
  if (c == ';')
    return FALSE;
  ustr_append (out, c);
  return TRUE;
}

/* ftfy's unescape_html(): &name; for HTML5's names (and the upper-case
 * spelling of some), and numeric references, each with its ';'. */
static gboolean
unescape_html (UString *s)
{
  UString out = { NULL, 0, 0 };
  gboolean changed = FALSE;

  if (!ustr_has (s, '&'))
    return FALSE;
  for (gsize i = 0; i < s->len; )
    {
      gsize start, len;
      gboolean numeric, done = FALSE;

      if (s->c[i] != '&')
        {
          ustr_append (&out, s->c[i++]);
          continue;
        }
      numeric = i + 1 < s->len && s->c[i + 1] == '#';
      start = i + 1 + numeric;
      for (len = 0; start + len < s->len && is_entity_char (s->c[start + len]); len++)
        ;
      if (len >= 1 && len <= 24 && start + len < s->len && s->c[start + len] == ';')
        {
          if (numeric)
            done = numeric_reference (s->c + start, len, &out);
          else
            {
              char name[25];
              const char *value;

              for (gsize k = 0; k < len; k++)
                name[k] = (char) s->c[start + k];
              name[len] = '\0';
              value = lookup_entity (name);
              if (value != NULL)
                {
                  ustr_append_utf8 (&out, value);
                  done = TRUE;
                }
            }
        }
      if (done)
        {
          changed = TRUE;
          i = start + len + 1;
        }
      else
        ustr_append (&out, s->c[i++]);
    }
  return ustr_replace (s, &out, changed);
}

/* ftfy's remove_terminal_escapes(): ESC [ digits-and-semicolons letter. */
static void
remove_terminal_escapes (UString *s)
{
  gsize o = 0;

  for (gsize i = 0; i < s->len; )
    {
      if (s->c[i] == 0x1b && i + 1 < s->len && s->c[i + 1] == '[')
        {
          gsize j = i + 2;

          while (j < s->len && (s->c[j] == ';' || g_unichar_isdigit (s->c[j])))
            j++;
          if (j < s->len && s->c[j] < 0x80 && g_ascii_isalpha (s->c[j]))
            {
              i = j + 1;
              continue;
            }
        }
      s->c[o++] = s->c[i++];
    }
  s->len = o;
}

static const char *
ligature (gunichar c)
{
  switch (c)
    {
    case 0x132: return "IJ";
    case 0x133: return "ij";
    case 0x149: return "\u02bcn";
    case 0x1f1: return "DZ";
    case 0x1f2: return "Dz";
    case 0x1f3: return "dz";
    case 0x1c4: return "D\u017d";
    case 0x1c5: return "D\u017e";
    case 0x1c6: return "d\u017e";
    case 0x1c7: return "LJ";
    case 0x1c8: return "Lj";
    case 0x1c9: return "lj";
    case 0x1ca: return "NJ";
    case 0x1cb: return "Nj";
    case 0x1cc: return "nj";
    case 0xfb00: return "ff";
    case 0xfb01: return "fi";
    case 0xfb02: return "fl";
    case 0xfb03: return "ffi";
    case 0xfb04: return "ffl";
    case 0xfb05: return "\u017ft";
    case 0xfb06: return "st";
    default: return NULL;
    }
}

static const char *
width_fold (gunichar c)
{
  const FtfyWidth *entry;

  if (c != 0x3000 && (c < 0xff01 || c > 0xffef))
    return NULL;
  entry = find_code_point (ftfy_widths, G_N_ELEMENTS (ftfy_widths), sizeof ftfy_widths[0], c);
  return entry != NULL ? entry->folded : NULL;
}

/* ftfy's removed control characters: C0 but for \t \n \f \r, DEL, the
 * deprecated Arabic format characters, the byte-order mark and the
 * interlinear annotation characters. */
static gboolean
is_removed_control (gunichar c)
{
  return c <= 0x08 || c == 0x0b || (c >= 0x0e && c <= 0x1f) || c == 0x7f
         || (c >= 0x206a && c <= 0x206f) || c == 0xfeff || (c >= 0xfff9 && c <= 0xfffc);
}

/* Curly quotes, then line breaks other than '\r'. */
static void
append_straightened (UString  *out,
                     gunichar  c)
{
  if (c >= 0x201c && c <= 0x201f)
    c = '"';
  else if (c == 0x2bc || (c >= 0x2018 && c <= 0x201b))
    c = '\'';
  else if (c == 0x2028 || c == 0x2029 || c == 0x85)
    c = '\n';
  ustr_append (out, c);
}

/* In ftfy's order: Latin ligatures, character width, curly quotes, line
 * breaks, terminal escapes and control characters. What a ligature or a
 * wide form expands to goes through the later steps too (ŉ becomes ʼn,
 * then 'n); no expansion is itself a ligature or a wide form. */
static void
fix_characters (UString *s)
{
  UString out = { NULL, 0, 0 };
  gsize o = 0;
  gboolean plain = TRUE;

  /* Most text has nothing for these steps to do. */
  for (gsize i = 0; i < s->len && plain; i++)
    {
      gunichar c = s->c[i];

      if (c < 0x80)
        plain = c >= 0x20 && c != 0x7f;
      else
        plain = c >= 0xa0 && c != 0x2bc && !(c >= 0x2018 && c <= 0x201f) && c != 0x2028
                && c != 0x2029 && !(c >= 0x206a && c <= 0x206f) && c != 0x3000
                && !(c >= 0xfeff && c <= 0xfffc) && ligature (c) == NULL;
    }
  if (plain)
    return;

  ustr_reserve (&out, s->len);
  for (gsize i = 0; i < s->len; i++)
    {
      gunichar c = s->c[i];
      const char *expanded;

      if (c < 0x80 && c != '\r')
        ustr_append (&out, c);
      else if ((expanded = ligature (c)) != NULL || (expanded = width_fold (c)) != NULL)
        for (const char *p = expanded; *p != '\0'; p = g_utf8_next_char (p))
          append_straightened (&out, g_utf8_get_char (p));
      else if (c == '\r')
        {
          ustr_append (&out, '\n');
          if (i + 1 < s->len && s->c[i + 1] == '\n')
            i++;
        }
      else
        append_straightened (&out, c);
    }
  ustr_take (s, &out);

  remove_terminal_escapes (s);
  for (gsize i = 0; i < s->len; i++)
    if (!is_removed_control (s->c[i]))
      s->c[o++] = s->c[i];
  s->len = o;
}

/* Whether NFC can treat the text before @c and from @c on separately:
 * @c is a starter that nothing composes with as the second character,
 * and its decomposition starts with one. This holds for ASCII and the
 * letters of the common alphabets listed; other characters just make
 * longer pieces. */
static gboolean
is_nfc_boundary (gunichar c)
{
  static const gunichar ranges[][2] = {
    { 0x00c0, 0x017f },  /* Latin-1 and Latin Extended-A letters */
    { 0x0370, 0x03ff },  /* Greek */
    { 0x0400, 0x0482 },  /* Cyrillic, without its combining marks */
    { 0x048a, 0x04ff },
    { 0x05d0, 0x05ea },  /* Hebrew letters */
    { 0x0621, 0x064a },  /* Arabic letters */
    { 0x0e01, 0x0e30 },  /* Thai letters */
    { 0x3041, 0x3096 },  /* Hiragana */
    { 0x30a1, 0x30fa },  /* Katakana */
    { 0x3400, 0x4dbf },  /* CJK ideographs */
    { 0x4e00, 0x9fff },
    { 0xac00, 0xd7a3 },  /* Hangul syllables */
  };

  if (c < 0x80)
    return TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS (ranges); i++)
    if (c >= ranges[i][0] && c <= ranges[i][1])
      return g_unichar_combining_class (c) == 0;
  return FALSE;
}

/* NFC pieces are at least this long. */
#define NFC_PIECE 256

/* Appends the NFC form of @n characters at @c to @out. GLib's
 * normalisation takes time quadratic in the length of its input, so a
 * long text goes to it in pieces. */
static void
append_nfc (UString        *out,
            const gunichar *c,
            gsize           n)
{
  gboolean stable = TRUE;
  g_autofree char *utf8 = NULL;
  g_autofree char *nfc = NULL;
  gsize length;

  /* Text made only of such starters is in NFC already, but for the three
   * Greek characters that NFC replaces; nothing below U+0300 combines or
   * decomposes either. */
  for (gsize i = 0; i < n && stable; i++)
    stable = c[i] < 0x300
             || (is_nfc_boundary (c[i]) && c[i] != 0x374 && c[i] != 0x37e && c[i] != 0x387);
  if (stable)
    {
      ustr_append_n (out, c, n);
      return;
    }
  utf8 = ustr_to_utf8 (c, n, &length);
  nfc = g_utf8_normalize (utf8, length, G_NORMALIZE_NFC);
  if (nfc == NULL)
    ustr_append_n (out, c, n);
  else
    ustr_append_utf8 (out, nfc);
}

static void
normalize_nfc (UString *s)
{
  UString out = { NULL, 0, 0 };
  gsize start = 0;

  ustr_reserve (&out, s->len);
  for (gsize i = 1; i <= s->len; i++)
    if (i == s->len || (i - start >= NFC_PIECE && is_nfc_boundary (s->c[i])))
      {
        append_nfc (&out, s->c + start, i - start);
        start = i;
      }
  ustr_take (s, &out);
}

/* ftfy fixes a piece until it stops changing; each round takes time in
 * proportion to its length, and a round may undo no more than one layer
 * of nested entities ("&amp;amp;amp;…"), so a hostile text could keep it
 * going for hours. Texts are left as they are after this many rounds;
 * real ones need two or three. */
#define MAX_ROUNDS 32

/* ftfy's fix_and_explain() on one piece: every fix in turn until the text
 * stops changing. */
static void
fix_segment (UString  *s,
             gboolean  html)
{
  UString before = { NULL, 0, 0 };
  int rounds = 0;

  do
    {
      before.len = 0;
      ustr_append_n (&before, s->c, s->len);
      if (html)
        unescape_html (s);
      fix_encoding (s);
      fix_c1_controls (s);
      fix_characters (s);
      normalize_nfc (s);
    }
  while (!ustr_equal (s, &before) && ++rounds < MAX_ROUNDS);
  ustr_clear (&before);
}

/* Text that no fix changes: printable ASCII, tabs, '\n' and '\f', with no
 * '&' to start an entity. */
static gboolean
is_plain (const char *text,
          gsize       length)
{
  for (gsize i = 0; i < length; i++)
    {
      guchar c = text[i];

      if (!((c >= 0x20 && c < 0x7f && c != '&') || c == '\t' || c == '\n' || c == '\f'))
        return FALSE;
    }
  return TRUE;
}

char *
clipscope_ftfy_fix_text (const char *text,
                         gsize       length)
{
  UString s, out = { NULL, 0, 0 };
  gboolean html = TRUE;
  char *result;

  if (is_plain (text, length))
    return g_strndup (text, length);
  init ();

  s = ustr_from_utf8 (text, length);
  for (gsize pos = 0; pos < s.len; )
    {
      UString piece = { NULL, 0, 0 };
      gsize end = pos;

      while (end < s.len && end - pos < MAX_DECODE_LENGTH && s.c[end] != '\n')
        end++;
      if (end < s.len && end - pos < MAX_DECODE_LENGTH)
        end++;  /* the '\n' stays with its line */

      ustr_append_n (&piece, s.c + pos, end - pos);
      for (gsize i = 0; i < piece.len && html; i++)
        html = piece.c[i] != '<';
      fix_segment (&piece, html);
      ustr_append_n (&out, piece.c, piece.len);
      ustr_clear (&piece);
      pos = end;
    }
  result = ustr_to_utf8 (out.c, out.len, NULL);
  ustr_clear (&s);
  ustr_clear (&out);
  return result;
}

char *
clipscope_ftfy_fix_encoding (const char *text,
                             gsize       length,
                             gsize      *out_length)
{
  UString s = ustr_from_utf8 (text, length);
  char *result;

  init ();
  fix_encoding (&s);
  result = ustr_to_utf8 (s.c, s.len, out_length);
  ustr_clear (&s);
  return result;
}
