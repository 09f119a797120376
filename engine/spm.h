/* spm.h — SentencePiece models: reading them and encoding with them
 *
 * A model comes from sentencepiece's own file (spiece.model,
 * tokenizer.model: a ModelProto in protobuf's wire format) or from a
 * Hugging Face tokenizer.json written from one. Both become the same
 * ClipscopeSpmModel; clipscope_spm_new() checks it and builds what
 * encoding needs. Encoding is sentencepiece's: normalisation through the
 * model's precompiled character map, its white-space rules, then unigram
 * Viterbi or score-ordered BPE, byte fallback or merged unknowns.
 */
#pragma once

#include "clipscope-private.h"

G_BEGIN_DECLS

/* Tokenizer files are read whole; Gemma's tokenizer.json is 33 MB. */
#define CLIPSCOPE_MAX_TOKENIZER_FILE_BYTES (256 * 1024 * 1024)

typedef enum
{
  CLIPSCOPE_SPM_PIECE_NORMAL = 1,
  CLIPSCOPE_SPM_PIECE_UNKNOWN = 2,
  CLIPSCOPE_SPM_PIECE_CONTROL = 3,
  CLIPSCOPE_SPM_PIECE_USER_DEFINED = 4,
  CLIPSCOPE_SPM_PIECE_UNUSED = 5,
  CLIPSCOPE_SPM_PIECE_BYTE = 6,
} ClipscopeSpmPieceType;

typedef enum
{
  CLIPSCOPE_SPM_MODEL_UNIGRAM = 1,
  CLIPSCOPE_SPM_MODEL_BPE = 2,
  CLIPSCOPE_SPM_MODEL_WORD = 3,
  CLIPSCOPE_SPM_MODEL_CHAR = 4,
} ClipscopeSpmModelType;

typedef struct
{
  char                 *piece;   /* UTF-8, NUL-terminated */
  gsize                 length;  /* in bytes */
  float                 score;
  ClipscopeSpmPieceType type;
} ClipscopeSpmPiece;

typedef struct
{
  char                 *path;            /* for messages */
  GArray               *pieces;          /* ClipscopeSpmPiece, index = id */
  ClipscopeSpmModelType model_type;
  gboolean              byte_fallback;
  gboolean              treat_whitespace_as_suffix;
  int                   unk_id;          /* as the trainer spec gives them; */
  int                   bos_id;          /* -1 where absent */
  int                   eos_id;
  int                   pad_id;

  char                 *normalizer_name;
  GBytes               *charsmap;        /* precompiled_charsmap, or NULL */
  gboolean              add_dummy_prefix;
  gboolean              remove_extra_whitespaces;
  gboolean              escape_whitespaces;

  /* Byte-pair merges of a tokenizer.json, by rank: left and right piece
   * ids. NULL for a sentencepiece file, whose BPE merges by score. */
  GArray               *merges;          /* int32_t pairs */
} ClipscopeSpmModel;

ClipscopeSpmModel *clipscope_spm_model_new (const char *path);
void clipscope_spm_model_free (ClipscopeSpmModel *model);

/* Appends a piece; @piece is copied. */
void clipscope_spm_model_add_piece (ClipscopeSpmModel    *model,
                                    const char           *piece,
                                    gsize                 length,
                                    float                 score,
                                    ClipscopeSpmPieceType type);

/* A sentencepiece model file, or a tokenizer.json (told apart by the "{"
 * that starts a JSON object). Malformed protobuf is an error naming @path
 * and the byte offset. */
ClipscopeSpmModel *clipscope_spm_model_load (const char *path,
                                             GError    **error) G_GNUC_WARN_UNUSED_RESULT;

/* A ModelProto in protobuf's wire format. */
ClipscopeSpmModel *clipscope_spm_model_parse (const guint8 *data,
                                              gsize         size,
                                              const char   *path,
                                              GError      **error) G_GNUC_WARN_UNUSED_RESULT;

/* A Hugging Face tokenizer.json with a Unigram or BPE model, as
 * transformers' SentencePiece converters write them. */
ClipscopeSpmModel *clipscope_spm_model_parse_hf_json (const char *data,
                                                      gsize       size,
                                                      const char *path,
                                                      GError    **error) G_GNUC_WARN_UNUSED_RESULT;

/* Reads a whole file of at most @max_bytes; errors name it. */
gboolean clipscope_spm_read_file (const char *path,
                                  gsize       max_bytes,
                                  char      **contents,
                                  gsize      *length,
                                  GError    **error);

/* ------------------------------------------------------------ encoding */

typedef struct _ClipscopeSpm ClipscopeSpm;

/* Checks @model (taken over, freed on failure too) and builds the lookup
 * tables. Errors name the model's file. */
ClipscopeSpm *clipscope_spm_new (ClipscopeSpmModel *model,
                                 GError           **error) G_GNUC_WARN_UNUSED_RESULT;
void clipscope_spm_free (ClipscopeSpm *spm);

const ClipscopeSpmModel *clipscope_spm_get_model (const ClipscopeSpm *spm);
int clipscope_spm_get_vocab_size (const ClipscopeSpm *spm);

/* The highest id clipscope_spm_encode() can give: control and unused
 * pieces past it (T5's <extra_id_N>, say) never come out. */
int32_t clipscope_spm_get_max_output_id (const ClipscopeSpm *spm);

/* The id of a piece of any type, or -1. */
int32_t clipscope_spm_piece_to_id (const ClipscopeSpm *spm,
                                   const char         *piece);

/* The text as the model's normaliser leaves it, U+2581 for spaces where
 * the model escapes them. @text must be valid UTF-8. */
char *clipscope_spm_normalize (const ClipscopeSpm *spm,
                               const char         *text,
                               GError            **error);

/* Appends the ids of @text (valid UTF-8, no BOS or EOS) to @ids, as
 * sentencepiece's Encode() gives them. Thread-safe. */
gboolean clipscope_spm_encode (const ClipscopeSpm *spm,
                               const char         *text,
                               GArray             *ids,
                               GError            **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClipscopeSpmModel, clipscope_spm_model_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClipscopeSpm, clipscope_spm_free)

G_END_DECLS
