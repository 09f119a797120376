/* ftfy.h — the text repairs CLIP's tokenizers apply before BPE */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* ftfy.fix_text() with ftfy 6.3's default configuration, as OpenAI's and
 * open_clip's tokenizers call it: mojibake repair, HTML entities (unless
 * the text holds a '<'), terminal escapes, Latin ligatures, character
 * width, curly quotes, line breaks, control characters and NFC. @text is
 * valid UTF-8 of @length bytes; the result is newly allocated. */
char *clipscope_ftfy_fix_text (const char *text,
                               gsize       length);

/* ftfy.fix_encoding(): the mojibake repair alone. The result may hold
 * U+0000 (from the two-byte Java encoding of it), so its length in bytes
 * is returned in *out_length. */
char *clipscope_ftfy_fix_encoding (const char *text,
                                   gsize       length,
                                   gsize      *out_length);

/* What Python's html.unescape() makes of the reference &#@value;: FALSE
 * when it stands for nothing, otherwise TRUE with the character in *c. */
gboolean clipscope_html_numeric_reference (guint64   value,
                                           gunichar *c);

G_END_DECLS
