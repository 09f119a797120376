/* download.c — fetching a model from the Hugging Face hub
 *
 * The hub protocol, as huggingface_hub speaks it:
 *
 *   GET {endpoint}/api/models/{repo}/tree/{revision}
 *       → [{"type": "file", "path", "size", "lfs": {"oid": SHA-256, "size"}}, …]
 *   GET {endpoint}/{repo}/resolve/{revision}/{path}
 *       → the file, usually after a redirect to a CDN; for a file stored in
 *         LFS the first answer carries X-Linked-Etag (its SHA-256) and
 *         X-Linked-Size
 *
 * Only the files the chosen layout needs are fetched, never a PyTorch
 * pickle. Where the listing fails (a mirror without the API), the known
 * file names are tried instead. Repositories whose main branch holds only
 * a pickle often have the hub's safetensors conversion as an open pull
 * request; as transformers does, that pull request's branch is used.
 *
 * Each file goes to FILE.part in the staging folder ".FOLDER.partial",
 * resumed with a Range request, checked (size always, SHA-256 when the hub
 * gives it) and renamed to FILE; when all are there and the model loads,
 * the staging folder is renamed to FOLDER. A file whose hash is wrong is
 * deleted; a partial file is kept after any other failure (network lost,
 * timeout, cancellation, disk full) so that the next attempt resumes it.
 *
 * Each download creates its own SoupSession and uses it on its own thread
 * with the blocking API, which libsoup 3 allows.
 */
#include "model-store.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define MAX_REDIRECTS      10
#define MAX_LISTING_BYTES  (16 * 1024 * 1024)
#define CHUNK_BYTES        (256 * 1024)
#define REPORT_INTERVAL_US (100 * 1000)
#define MAX_DISCUSSION_PAGES 20

/* Where open_clip folders without their own tokenizer get one: open_clip
 * tokenizes CLIP text towers with OpenAI's BPE, which this repository
 * holds as vocab.json and merges.txt. */
#define TOKENIZER_REPO     "openai/clip-vit-base-patch32"

/* The title the hub's conversion bot gives its pull requests. */
#define CONVERSION_PR_TITLE "Adding `safetensors` variant of this model"

typedef struct {
  char    *repo;
  char    *revision;
  char    *path;         /* in the repository and in the model folder */
  int64_t  size;         /* -1 while unknown */
  char    *sha256;       /* lower-case hex, or NULL when the hub gives none */
} RemoteFile;

typedef struct {
  ClipscopeModelStore           *store;
  ClipscopeModelRef              ref;
  GCancellable                  *cancellable;
  SoupSession                   *session;
  GUri                          *endpoint;
  char                          *staging;
  GPtrArray                     *files;        /* of RemoteFile */
  ClipscopeDownloadProgressFunc  progress;
  gpointer                       progress_data;
  ClipscopeDownloadProgress      state;
  int64_t                        done_before;  /* bytes of the files before this one */
  gint64                         last_report;
} Download;

static void
remote_file_free (RemoteFile *f)
{
  g_free (f->repo);
  g_free (f->revision);
  g_free (f->path);
  g_free (f->sha256);
  g_free (f);
}

static RemoteFile *
remote_file_new (const char *repo,
                 const char *revision,
                 const char *path)
{
  RemoteFile *f = g_new0 (RemoteFile, 1);

  f->repo = g_strdup (repo);
  f->revision = g_strdup (revision);
  f->path = g_strdup (path);
  f->size = -1;
  return f;
}

/* ------------------------------------------------------------------ HTTP */

static char *
api_url (Download   *dl,
         const char *what,
         const char *revision)
{
  g_autofree char *rev = revision ? g_uri_escape_string (revision, NULL, FALSE) : NULL;

  return g_strdup_printf ("%s/api/models/%s/%s%s%s", dl->store->endpoint, dl->ref.repo, what,
                          rev ? "/" : "", rev ? rev : "");
}

static char *
resolve_url (Download         *dl,
             const RemoteFile *f)
{
  g_autofree char *rev = g_uri_escape_string (f->revision, NULL, FALSE);
  g_autofree char *path = g_uri_escape_string (f->path, "/", FALSE);

  return g_strdup_printf ("%s/%s/resolve/%s/%s", dl->store->endpoint, f->repo, rev, path);
}

/* The token goes to the hub alone, never to the CDN it redirects to. */
static gboolean
same_origin (GUri *a,
             GUri *b)
{
  return g_ascii_strcasecmp (g_uri_get_scheme (a), g_uri_get_scheme (b)) == 0
         && g_ascii_strcasecmp (g_uri_get_host (a), g_uri_get_host (b)) == 0
         && g_uri_get_port (a) == g_uri_get_port (b);
}

static SoupMessage *
new_request (Download   *dl,
             const char *url,
             int64_t     offset,
             GError    **error)
{
  g_autoptr(GUri) uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);
  SoupMessage *msg = uri ? soup_message_new_from_uri (SOUP_METHOD_GET, uri) : NULL;
  SoupMessageHeaders *headers;

  if (msg == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s: not a valid URL", url);
      return NULL;
    }
  /* Redirects are followed by hand, to keep the token on the hub. */
  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  headers = soup_message_get_request_headers (msg);
  soup_message_headers_replace (headers, "Accept-Encoding", "identity");
  if (dl->store->token != NULL && dl->endpoint != NULL && same_origin (uri, dl->endpoint))
    {
      g_autofree char *auth = g_strdup_printf ("Bearer %s", dl->store->token);
      soup_message_headers_replace (headers, "Authorization", auth);
    }
  if (offset > 0)
    soup_message_headers_set_range (headers, offset, -1);
  return msg;
}

static gboolean
http_error (SoupMessage *msg,
            const char  *url,
            const char  *what,
            GError     **error)
{
  guint status = soup_message_get_status (msg);
  const char *code = soup_message_headers_get_one (soup_message_get_response_headers (msg),
                                                   "X-Error-Code");

  if (status == SOUP_STATUS_NOT_FOUND)
    g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_NOT_FOUND, "%s: %s (HTTP 404 for %s)",
                 what, g_strcmp0 (code, "RepoNotFound") == 0 ? "no such repository on the hub"
                                                           : "not found on the hub", url);
  else if (status == SOUP_STATUS_UNAUTHORIZED || status == SOUP_STATUS_FORBIDDEN)
    g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_AUTH,
                 "%s: access refused (HTTP %u for %s); the repository may be gated or private: "
                 "set HF_TOKEN to a token that may read it", what, status, url);
  else
    g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_HTTP, "%s: HTTP %u %s for %s",
                 what, status, soup_message_get_reason_phrase (msg), url);
  return FALSE;
}

static gboolean
is_redirect (guint status)
{
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* Remembers what the hub says of an LFS file in its first answer, before
 * the redirect to the CDN. */
static void
note_linked_headers (SoupMessage *msg,
                     RemoteFile  *f)
{
  SoupMessageHeaders *h = soup_message_get_response_headers (msg);
  const char *etag = soup_message_headers_get_one (h, "X-Linked-Etag");
  const char *size = soup_message_headers_get_one (h, "X-Linked-Size");
  g_autofree char *hex = NULL;

  if (f == NULL)
    return;
  if (etag != NULL && f->sha256 == NULL)
    {
      hex = g_ascii_strdown (etag + (etag[0] == 'W' && etag[1] == '/' ? 2 : 0), -1);
      g_strdelimit (hex, "\"", ' ');
      g_strstrip (hex);
      /* A 64-digit ETag is a SHA-256; the hub's other ETags are git hashes. */
      if (strlen (hex) == 64 && strspn (hex, "0123456789abcdef") == 64)
        f->sha256 = g_steal_pointer (&hex);
    }
  if (size != NULL && f->size < 0)
    f->size = g_ascii_strtoll (size, NULL, 10);
}

/* Sends a GET, following redirects; the answer may still be an error
 * status, which the caller judges. @f, when given, collects the hub's
 * hash and size. */
static GInputStream *
send_get (Download     *dl,
          const char   *url,
          int64_t       offset,
          RemoteFile   *f,
          SoupMessage **msg_out,
          GError      **error)
{
  g_autofree char *current = g_strdup (url);

  for (int hop = 0; hop <= MAX_REDIRECTS; hop++)
    {
      g_autoptr(SoupMessage) msg = new_request (dl, current, offset, error);
      g_autoptr(GInputStream) in = NULL;
      g_autoptr(GError) local_error = NULL;
      const char *location;

      if (msg == NULL)
        return NULL;
      in = soup_session_send (dl->session, msg, dl->cancellable, &local_error);
      if (in == NULL)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "%s: ", current);
          return NULL;
        }
      note_linked_headers (msg, f);
      location = soup_message_headers_get_one (soup_message_get_response_headers (msg), "Location");
      if (!is_redirect (soup_message_get_status (msg)) || location == NULL)
        {
          *msg_out = g_steal_pointer (&msg);
          return g_steal_pointer (&in);
        }
      g_input_stream_close (in, NULL, NULL);
      g_autofree char *next = g_uri_resolve_relative (current, location, SOUP_HTTP_URI_FLAGS, error);
      if (next == NULL)
        return NULL;
      g_free (current);
      current = g_steal_pointer (&next);
    }
  g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_HTTP,
               "%s: more than %d redirects", url, MAX_REDIRECTS);
  return NULL;
}

/* Reads a small answer whole: a listing or a discussion page. */
static GBytes *
get_small (Download   *dl,
           const char *url,
           const char *what,
           GError    **error)
{
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GInputStream) in = send_get (dl, url, 0, NULL, &msg, error);
  g_autoptr(GByteArray) data = g_byte_array_new ();
  guint8 buf[16384];
  gssize n;

  if (in == NULL)
    return NULL;
  if (soup_message_get_status (msg) != SOUP_STATUS_OK)
    {
      http_error (msg, url, what, error);
      return NULL;
    }
  while ((n = g_input_stream_read (in, buf, sizeof buf, dl->cancellable, error)) > 0)
    {
      if (data->len + n > MAX_LISTING_BYTES)
        {
          g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_HTTP,
                       "%s: the answer is larger than %d MiB", url, MAX_LISTING_BYTES >> 20);
          return NULL;
        }
      g_byte_array_append (data, buf, (guint) n);
    }
  if (n < 0)
    {
      g_prefix_error (error, "%s: ", url);
      return NULL;
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&data));
}

static JsonNode *
get_json (Download   *dl,
          const char *url,
          const char *what,
          GError    **error)
{
  g_autoptr(GBytes) body = get_small (dl, url, what, error);
  gsize len;
  const char *text;

  if (body == NULL)
    return NULL;
  text = g_bytes_get_data (body, &len);
  return clipscope_store_parse_json (url, text ? text : "", len, error);
}

/* -------------------------------------------------------------- progress */

static void
report (Download *dl,
        gboolean  force)
{
  gint64 now = g_get_monotonic_time ();

  if (dl->progress == NULL || (!force && now - dl->last_report < REPORT_INTERVAL_US))
    return;
  dl->last_report = now;
  dl->state.done = dl->done_before + dl->state.file_done;
  dl->progress (&dl->state, dl->progress_data);
}

/* The total is known once every file's size is. */
static void
update_total (Download *dl)
{
  int64_t total = 0;

  for (guint i = 0; i < dl->files->len; i++)
    {
      RemoteFile *f = g_ptr_array_index (dl->files, i);
      if (f->size < 0)
        {
          dl->state.total = -1;
          return;
        }
      total += f->size;
    }
  dl->state.total = total;
}

/* --------------------------------------------------------------- a file */

static gboolean
io_error (const char  *path,
          const char  *what,
          int          saved_errno,
          GError     **error)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s: cannot %s: %s",
               path, what, g_strerror (saved_errno));
  return FALSE;
}

static gboolean
write_all (int           fd,
           const guint8 *buf,
           gsize         len,
           const char   *path,
           GError      **error)
{
  while (len > 0)
    {
      ssize_t n = write (fd, buf, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return io_error (path, "write", errno, error);
      buf += n;
      len -= (gsize) n;
    }
  return TRUE;
}

/* Feeds what a resumed file already holds to the checksum. */
static gboolean
hash_existing (const char *path,
               GChecksum  *sum,
               GError    **error)
{
  int fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  g_autofree guint8 *buf = g_malloc (CHUNK_BYTES);
  ssize_t n;
  int saved;

  if (fd < 0)
    return errno == ENOENT ? TRUE : io_error (path, "read", errno, error);
  while ((n = read (fd, buf, CHUNK_BYTES)) > 0)
    g_checksum_update (sum, buf, n);
  saved = errno;
  close (fd);
  return n == 0 ? TRUE : io_error (path, "read", saved, error);
}

static int64_t
file_size (const char *path)
{
  GStatBuf st;

  return g_stat (path, &st) == 0 ? st.st_size : -1;
}

/* Where the answer to a Range request puts the data; -1 when the server
 * sent the whole file instead. Sets the file's size from the answer. */
static int64_t
answer_start (SoupMessage *msg,
              RemoteFile  *f)
{
  SoupMessageHeaders *h = soup_message_get_response_headers (msg);
  goffset start = 0, end = 0, total = -1;

  if (soup_message_get_status (msg) == SOUP_STATUS_PARTIAL_CONTENT
      && soup_message_headers_get_content_range (h, &start, &end, &total))
    {
      if (f->size < 0 && total >= 0)
        f->size = total;
      return start;
    }
  if (f->size < 0 && soup_message_headers_get_encoding (h) == SOUP_ENCODING_CONTENT_LENGTH)
    f->size = soup_message_headers_get_content_length (h);
  return -1;
}

static gboolean
verify (Download   *dl,
        RemoteFile *f,
        const char *part,
        GChecksum  *sum,
        GError    **error)
{
  int64_t got = file_size (part);
  const char *hex;

  if (f->size >= 0 && got < f->size)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT,
                   "%s: the download ended after %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
                   " bytes", f->path, got, f->size);
      return FALSE;
    }
  if (f->size >= 0 && got > f->size)
    {
      g_unlink (part);
      g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_CHECKSUM,
                   "%s: %" G_GINT64_FORMAT " bytes where the hub lists %" G_GINT64_FORMAT
                   "; the file was deleted", f->path, got, f->size);
      return FALSE;
    }
  if (f->sha256 == NULL || sum == NULL)
    return TRUE;
  hex = g_checksum_get_string (sum);
  if (g_ascii_strcasecmp (hex, f->sha256) == 0)
    return TRUE;
  g_unlink (part);
  g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_CHECKSUM,
               "%s: SHA-256 %s, but the hub gives %s; the corrupt file was deleted and the model "
               "is not installed", f->path, hex, f->sha256);
  return FALSE;
}

/* Copies the body into @fd, reporting progress. */
static gboolean
receive (Download     *dl,
         GInputStream *in,
         int           fd,
         const char   *part,
         GChecksum    *sum,
         GError      **error)
{
  g_autofree guint8 *buf = g_malloc (CHUNK_BYTES);
  gssize n;

  while ((n = g_input_stream_read (in, buf, CHUNK_BYTES, dl->cancellable, error)) > 0)
    {
      if (!write_all (fd, buf, (gsize) n, part, error))
        return FALSE;
      if (sum != NULL)
        g_checksum_update (sum, buf, n);
      dl->state.file_done += n;
      report (dl, FALSE);
    }
  if (n < 0)
    {
      g_prefix_error (error, "%s: ", dl->state.file);
      return FALSE;
    }
  if (fsync (fd) != 0)
    return io_error (part, "write", errno, error);
  return TRUE;
}

/* One GET of @f from @offset, appended to @part. Sets *restart when the
 * server cannot resume there, so the file is fetched again from 0. */
static gboolean
fetch_from (Download   *dl,
            RemoteFile *f,
            const char *part,
            int64_t     offset,
            gboolean   *restart,
            GError    **error)
{
  g_autofree char *url = resolve_url (dl, f);
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GInputStream) in = send_get (dl, url, offset, f, &msg, error);
  g_autoptr(GChecksum) sum = NULL;
  gboolean ok;
  guint status;
  int fd;

  if (in == NULL)
    return FALSE;
  status = soup_message_get_status (msg);
  *restart = FALSE;
  if (status == SOUP_STATUS_REQUESTED_RANGE_NOT_SATISFIABLE && offset > 0)
    {
      /* Either the part is already whole, or the file changed. */
      if (f->size == offset)
        {
          sum = g_checksum_new (G_CHECKSUM_SHA256);
          return hash_existing (part, sum, error) && verify (dl, f, part, sum, error);
        }
      *restart = TRUE;
      return FALSE;
    }
  if (status != SOUP_STATUS_OK && status != SOUP_STATUS_PARTIAL_CONTENT)
    return http_error (msg, url, f->path, error);
  if (offset > 0 && answer_start (msg, f) != offset)
    {
      *restart = TRUE;
      return FALSE;
    }
  if (offset == 0)
    answer_start (msg, f);
  update_total (dl);
  dl->state.file_total = f->size;
  if (f->sha256 != NULL)
    {
      sum = g_checksum_new (G_CHECKSUM_SHA256);
      if (offset > 0 && !hash_existing (part, sum, error))
        return FALSE;
    }
  fd = g_open (part, O_WRONLY | O_CREAT | O_CLOEXEC | (offset > 0 ? O_APPEND : O_TRUNC), 0644);
  if (fd < 0)
    return io_error (part, "create", errno, error);
  ok = receive (dl, in, fd, part, sum, error);
  if (close (fd) != 0 && ok)
    ok = io_error (part, "write", errno, error);
  return ok && verify (dl, f, part, sum, error);
}

static gboolean
fetch_file (Download   *dl,
            RemoteFile *f,
            GError    **error)
{
  g_autofree char *final = g_build_filename (dl->staging, f->path, NULL);
  g_autofree char *part = g_strconcat (final, ".part", NULL);
  int64_t have = file_size (final);
  gboolean restart = FALSE;

  dl->state.file = f->path;
  dl->state.file_total = f->size;
  /* A file renamed from .part was verified when it was. */
  if (have >= 0 && (f->size < 0 || have == f->size))
    {
      f->size = have;
      dl->state.file_done = have;
      report (dl, TRUE);
      return TRUE;
    }
  have = MAX (file_size (part), 0);
  if (f->size >= 0 && have > f->size)
    have = 0;
  dl->state.file_done = have;
  report (dl, TRUE);
  if (!fetch_from (dl, f, part, have, &restart, error))
    {
      if (!restart)
        return FALSE;
      dl->state.file_done = 0;
      if (!fetch_from (dl, f, part, 0, &restart, error))
        return FALSE;
    }
  if (g_rename (part, final) != 0)
    return io_error (final, "create", errno, error);
  report (dl, TRUE);
  return TRUE;
}

/* ----------------------------------------------------------- which files */

typedef struct {
  int64_t size;
  char   *sha256;
} ListedFile;

static void
listed_file_free (ListedFile *l)
{
  g_free (l->sha256);
  g_free (l);
}

/* The repository's top-level files, by path; NULL with @error set when
 * the listing failed. */
static GHashTable *
list_repo (Download   *dl,
           const char *revision,
           GError    **error)
{
  g_autofree char *url = api_url (dl, "tree", revision);
  g_autoptr(JsonNode) root = get_json (dl, url, dl->ref.repo, error);
  g_autoptr(GHashTable) listing = NULL;
  JsonArray *items;

  if (root == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (root))
    {
      g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_HTTP,
                   "%s: the file listing is not a JSON array", url);
      return NULL;
    }
  listing = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) listed_file_free);
  items = json_node_get_array (root);
  for (guint i = 0; i < json_array_get_length (items); i++)
    {
      JsonObject *item = json_array_get_object_element (items, i);
      JsonObject *lfs;
      ListedFile *l;

      if (item == NULL
          || g_strcmp0 (json_object_get_string_member_with_default (item, "type", ""), "file") != 0
          || !json_object_has_member (item, "path"))
        continue;
      l = g_new0 (ListedFile, 1);
      l->size = json_object_get_int_member_with_default (item, "size", -1);
      lfs = json_object_has_member (item, "lfs") ? json_object_get_object_member (item, "lfs") : NULL;
      if (lfs != NULL)
        {
          l->sha256 = g_strdup (json_object_get_string_member_with_default (lfs, "oid", NULL));
          l->size = json_object_get_int_member_with_default (lfs, "size", l->size);
        }
      g_hash_table_replace (listing, g_strdup (json_object_get_string_member (item, "path")), l);
    }
  return g_steal_pointer (&listing);
}

/* The number of the first open conversion pull request on one page of
 * the repository's pull requests, or 0; *more says whether pages follow. */
static gint64
conversion_pr_on_page (Download *dl,
                       int       page,
                       gboolean *more)
{
  g_autofree char *base = api_url (dl, "discussions", NULL);
  g_autofree char *url = g_strdup_printf ("%s?type=pull_request&status=open&p=%d", base, page);
  g_autoptr(JsonNode) root = get_json (dl, url, dl->ref.repo, NULL);
  JsonObject *obj = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  JsonArray *items = obj && json_object_has_member (obj, "discussions")
                     ? json_object_get_array_member (obj, "discussions") : NULL;
  guint n = items ? json_array_get_length (items) : 0;

  *more = n > 0 && json_object_get_int_member_with_default (obj, "start", 0) + (gint64) n
                   < json_object_get_int_member_with_default (obj, "count", 0);
  for (guint i = 0; i < n; i++)
    {
      JsonObject *d = json_array_get_object_element (items, i);

      if (d != NULL
          && json_object_get_boolean_member_with_default (d, "isPullRequest", FALSE)
          && g_strcmp0 (json_object_get_string_member_with_default (d, "status", ""), "open") == 0
          && g_strcmp0 (json_object_get_string_member_with_default (d, "title", ""),
                        CONVERSION_PR_TITLE) == 0)
        return json_object_get_int_member_with_default (d, "num", 0);
    }
  return 0;
}

/* The branch of the hub's open safetensors conversion pull request, or
 * NULL when there is none. The filters in the query are the hub's; the
 * entries are checked all the same, for servers that ignore them. */
static char *
find_conversion_pr (Download *dl)
{
  gboolean more = TRUE;

  for (int page = 0; more && page < MAX_DISCUSSION_PAGES; page++)
    {
      gint64 num = conversion_pr_on_page (dl, page, &more);
      if (num > 0)
        return g_strdup_printf ("refs/pr/%" G_GINT64_FORMAT, num);
    }
  return NULL;
}

static const char * const hf_files[] = {
  "config.json", "model.safetensors", "vocab.json", "merges.txt", "preprocessor_config.json", NULL,
};
static const char * const open_clip_files[] = {
  "open_clip_config.json", "open_clip_model.safetensors", "vocab.json", "merges.txt",
  "bpe_simple_vocab_16e6.txt.gz", NULL,
};
/* What a catalogue model of another family may need besides, when there
 * is no listing to say which it has: SigLIP's and SigLIP 2's SentencePiece
 * models, Chinese-CLIP's WordPiece vocabulary, and the configuration that
 * says which tokenizer it is. Each is optional. */
static const char * const family_tokenizer_files[] = {
  "spiece.model", "tokenizer.model", "vocab.txt", "tokenizer_config.json", NULL,
};

static void
add_file (Download   *dl,
          const char *repo,
          const char *revision,
          const char *path,
          ListedFile *listed)
{
  RemoteFile *f = remote_file_new (repo, revision, path);

  if (listed != NULL)
    {
      f->size = listed->size;
      f->sha256 = g_ascii_strdown (listed->sha256 ? listed->sha256 : "", -1);
      if (f->sha256[0] == '\0')
        g_clear_pointer (&f->sha256, g_free);
    }
  g_ptr_array_add (dl->files, f);
}

/* The other families' tokenizers, which a listing holds instead of CLIP's
 * vocab.json and merges.txt: SigLIP's sentencepiece file where there is
 * one (Gemma's tokenizer.json is 33 MB, its tokenizer.model 4 MB), else
 * the tokenizer.json open_clip's hub folders have, and Chinese-CLIP's
 * vocab.txt; and the configuration that says which tokenizer it is. TRUE
 * for a sentencepiece file or a vocab.txt: a tokenizer.json alone may be a
 * CLIP's, which still gets the fallback. */
static gboolean
add_family_tokenizer (Download   *dl,
                      GHashTable *listing,
                      const char *revision)
{
  static const char * const models[] = { "spiece.model", "tokenizer.model", "vocab.txt" };
  gboolean found = FALSE;

  if (g_hash_table_contains (listing, "vocab.json"))
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (models); i++)
    if (g_hash_table_contains (listing, models[i]))
      {
        add_file (dl, dl->ref.repo, revision, models[i], g_hash_table_lookup (listing, models[i]));
        found = TRUE;
      }
  if (!found && g_hash_table_contains (listing, "tokenizer.json"))
    add_file (dl, dl->ref.repo, revision, "tokenizer.json", g_hash_table_lookup (listing, "tokenizer.json"));
  if ((found || g_hash_table_contains (listing, "tokenizer.json"))
      && g_hash_table_contains (listing, "tokenizer_config.json"))
    add_file (dl, dl->ref.repo, revision, "tokenizer_config.json",
              g_hash_table_lookup (listing, "tokenizer_config.json"));
  return found;
}

static void
add_tokenizer_fallback (Download *dl)
{
  add_file (dl, TOKENIZER_REPO, "main", "vocab.json", NULL);
  add_file (dl, TOKENIZER_REPO, "main", "merges.txt", NULL);
}

/* Picks the files of @format that the listing holds; FALSE when its
 * weights and configuration are not there. */
static gboolean
choose_from_listing (Download        *dl,
                     GHashTable      *listing,
                     const char      *revision,
                     ClipscopeFormat  format)
{
  const char * const *names = format == CLIPSCOPE_FORMAT_HF ? hf_files : open_clip_files;
  gboolean has_tokenizer;

  if (!g_hash_table_contains (listing, names[0]) || !g_hash_table_contains (listing, names[1]))
    return FALSE;
  for (int i = 0; names[i] != NULL; i++)
    if (g_hash_table_contains (listing, names[i]))
      add_file (dl, dl->ref.repo, revision, names[i], g_hash_table_lookup (listing, names[i]));
  has_tokenizer = (g_hash_table_contains (listing, "vocab.json") && g_hash_table_contains (listing, "merges.txt"))
                  || g_hash_table_contains (listing, "bpe_simple_vocab_16e6.txt.gz");
  if (!has_tokenizer)
    has_tokenizer = add_family_tokenizer (dl, listing, revision);
  if (format == CLIPSCOPE_FORMAT_OPEN_CLIP && !has_tokenizer)
    add_tokenizer_fallback (dl);
  return TRUE;
}

/* A catalogue model has its layout; for another repository, open_clip's
 * is preferred where both are present, since a timm repository's
 * config.json and model.safetensors hold only the image tower. */
static gboolean
choose_files (Download   *dl,
              GHashTable *listing,
              const char *revision)
{
  if (dl->ref.catalogue != NULL)
    return choose_from_listing (dl, listing, revision, dl->ref.catalogue->format);
  return choose_from_listing (dl, listing, revision, CLIPSCOPE_FORMAT_OPEN_CLIP)
         || choose_from_listing (dl, listing, revision, CLIPSCOPE_FORMAT_HF);
}

static gboolean
unsupported_repo (Download   *dl,
                  GHashTable *listing,
                  GError    **error)
{
  gboolean pickle = g_hash_table_contains (listing, "pytorch_model.bin")
                    || g_hash_table_contains (listing, "open_clip_pytorch_model.bin");

  g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_UNSUPPORTED,
               "%s: %s", dl->ref.repo,
               pickle ? "the repository has only PyTorch pickle weights, which Clipscope does not "
                        "read, and no safetensors conversion"
                      : "not a CLIP model in a layout Clipscope reads: expected config.json with "
                        "model.safetensors, or open_clip_config.json with open_clip_model.safetensors");
  return FALSE;
}

/* Lists the repository and picks its files, trying the conversion pull
 * request when the branch has no safetensors weights. */
static gboolean
plan_from_listing (Download   *dl,
                   GHashTable *listing,
                   GError    **error)
{
  g_autofree char *pr = NULL;
  g_autoptr(GHashTable) pr_listing = NULL;

  if (choose_files (dl, listing, dl->ref.revision))
    return TRUE;
  if ((pr = find_conversion_pr (dl)) != NULL
      && (pr_listing = list_repo (dl, pr, NULL)) != NULL
      && choose_files (dl, pr_listing, pr))
    {
      g_free (dl->ref.revision);
      dl->ref.revision = g_steal_pointer (&pr);
      return TRUE;
    }
  return unsupported_repo (dl, listing, error);
}

/* Without a listing the known names are tried: open_clip's configuration
 * first (a 404 there means the Hugging Face layout), then the rest, where
 * a missing optional file is skipped. */
static gboolean
probe (Download   *dl,
       const char *path,
       gboolean   *found,
       GError    **error)
{
  g_autoptr(GError) local_error = NULL;

  g_ptr_array_add (dl->files, remote_file_new (dl->ref.repo, dl->ref.revision, path));
  *found = fetch_file (dl, g_ptr_array_index (dl->files, dl->files->len - 1), &local_error);
  if (*found)
    return TRUE;
  g_ptr_array_set_size (dl->files, dl->files->len - 1);
  if (g_error_matches (local_error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_NOT_FOUND))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

static gboolean
plan_without_listing (Download *dl,
                      GError  **error)
{
  ClipscopeFormat format = dl->ref.catalogue ? dl->ref.catalogue->format : CLIPSCOPE_FORMAT_OPEN_CLIP;
  const char * const *names;
  gboolean found = FALSE;

  if (dl->ref.catalogue == NULL)
    {
      if (!probe (dl, open_clip_files[0], &found, error))
        return FALSE;
      format = found ? CLIPSCOPE_FORMAT_OPEN_CLIP : CLIPSCOPE_FORMAT_HF;
      if (!found && (!probe (dl, hf_files[0], &found, error) || !found))
        {
          if (!found)
            g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_NOT_FOUND,
                         "%s: no such repository on %s, or it holds neither %s nor %s (HTTP 404)",
                         dl->ref.repo, dl->store->endpoint, open_clip_files[0], hf_files[0]);
          return FALSE;
        }
    }
  names = format == CLIPSCOPE_FORMAT_HF ? hf_files : open_clip_files;
  for (int i = found ? 1 : 0; names[i] != NULL; i++)
    add_file (dl, dl->ref.repo, dl->ref.revision, names[i], NULL);
  /* Only a catalogue model is known to need another tokenizer. */
  if (dl->ref.catalogue != NULL && dl->ref.catalogue->family != CLIPSCOPE_FAMILY_CLIP)
    for (int i = 0; family_tokenizer_files[i] != NULL; i++)
      add_file (dl, dl->ref.repo, dl->ref.revision, family_tokenizer_files[i], NULL);
  return TRUE;
}

/* Files a layout can do without: preprocessing has defaults, and a
 * tokenizer has two forms. */
static gboolean
is_optional (const char *path)
{
  return strcmp (path, "preprocessor_config.json") == 0
         || strcmp (path, "bpe_simple_vocab_16e6.txt.gz") == 0
         || strcmp (path, "vocab.json") == 0
         || strcmp (path, "merges.txt") == 0
         || g_strv_contains (family_tokenizer_files, path);
}

static gboolean
has_tokenizer (const char *dir)
{
  g_autofree char *vocab = g_build_filename (dir, "vocab.json", NULL);
  g_autofree char *merges = g_build_filename (dir, "merges.txt", NULL);
  g_autofree char *gz = g_build_filename (dir, "bpe_simple_vocab_16e6.txt.gz", NULL);

  static const char * const family_files[] = { "spiece.model", "tokenizer.model", "vocab.txt" };

  for (gsize i = 0; i < G_N_ELEMENTS (family_files); i++)
    {
      g_autofree char *path = g_build_filename (dir, family_files[i], NULL);

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return TRUE;
    }
  return (g_file_test (vocab, G_FILE_TEST_EXISTS) && g_file_test (merges, G_FILE_TEST_EXISTS))
         || g_file_test (gz, G_FILE_TEST_EXISTS);
}

static gboolean
fetch_all (Download *dl,
           gboolean  listed,
           GError  **error)
{
  update_total (dl);
  dl->done_before = 0;
  for (guint i = 0; i < dl->files->len; i++)
    {
      RemoteFile *f = g_ptr_array_index (dl->files, i);
      g_autoptr(GError) local_error = NULL;

      dl->state.file_index = (int) i;
      dl->state.n_files = (int) dl->files->len;
      if (!fetch_file (dl, f, &local_error))
        {
          /* Without a listing, what is absent is known only now. */
          if (listed || !is_optional (f->path)
              || !g_error_matches (local_error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_NOT_FOUND))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          g_ptr_array_remove_index (dl->files, i--);
          update_total (dl);
          continue;
        }
      dl->done_before += MAX (f->size, 0);
    }
  return TRUE;
}

/* ------------------------------------------------------------- download */

static void
download_clear (Download *dl)
{
  clipscope_model_ref_clear (&dl->ref);
  g_clear_object (&dl->session);
  g_clear_pointer (&dl->endpoint, g_uri_unref);
  g_clear_pointer (&dl->staging, g_free);
  g_clear_pointer (&dl->files, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Download, download_clear)

static gboolean
check_downloadable (const ClipscopeModelRef *ref,
                    GError                 **error)
{
  if (ref->source == CLIPSCOPE_MODEL_SOURCE_BUNDLED || ref->source == CLIPSCOPE_MODEL_SOURCE_LOCAL)
    {
      g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_INVALID_NAME,
                   "\"%s\" is neither a catalogue name nor a Hugging Face repository id \"owner/name\"",
                   ref->name);
      return FALSE;
    }
  return TRUE;
}

/* Creates the staging folder and locks it against a second download of
 * the same model, in this process or another; returns the lock's fd. */
static int
open_staging (Download *dl,
              GError  **error)
{
  g_autofree char *lock = g_build_filename (dl->staging, ".lock", NULL);
  int fd;

  if (g_mkdir_with_parents (dl->staging, 0755) != 0)
    {
      io_error (dl->staging, "create", errno, error);
      return -1;
    }
  fd = g_open (lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      io_error (lock, "create", errno, error);
      return -1;
    }
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      close (fd);
      g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_BUSY,
                   "model \"%s\" is already being downloaded", dl->ref.name);
      return -1;
    }
  return fd;
}

static void
new_session (Download *dl)
{
  g_autofree char *agent = g_strdup_printf ("clipscope/%s", clipscope_version ());

  dl->session = soup_session_new_with_options ("timeout", (guint) dl->store->timeout_s,
                                               "user-agent", agent, NULL);
  /* Range requests and hashes are about the bytes as stored. */
  soup_session_remove_feature_by_type (dl->session, SOUP_TYPE_CONTENT_DECODER);
  dl->endpoint = g_uri_parse (dl->store->endpoint, SOUP_HTTP_URI_FLAGS, NULL);
}

static gboolean
plan (Download *dl,
      gboolean *listed,
      GError  **error)
{
  g_autoptr(GError) list_error = NULL;
  g_autoptr(GHashTable) listing = list_repo (dl, dl->ref.revision, &list_error);

  *listed = listing != NULL;
  if (listing != NULL)
    return plan_from_listing (dl, listing, error);
  /* A refused token or a dead network would fail the fallback too; say
   * what the listing met. */
  if (list_error->domain == G_IO_ERROR
      || g_error_matches (list_error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_AUTH))
    {
      g_propagate_error (error, g_steal_pointer (&list_error));
      return FALSE;
    }
  g_debug ("%s: no file listing (%s); trying the known file names", dl->ref.repo, list_error->message);
  return plan_without_listing (dl, error);
}

/* Checks that the files make a model, then puts the folder in place. */
static char *
install (Download *dl,
         GError  **error)
{
  g_autofree char *final = g_build_filename (dl->store->models_dir, dl->ref.folder, NULL);
  g_autofree char *lock = g_build_filename (dl->staging, ".lock", NULL);
  g_autoptr(ClipscopeModel) model = clipscope_model_load (dl->staging, NULL, dl->cancellable, error);

  if (model == NULL)
    {
      g_prefix_error (error, "%s: the downloaded files are not a model Clipscope can use: ", dl->ref.repo);
      clipscope_store_delete_tree (dl->staging, NULL);
      return NULL;
    }
  g_clear_pointer (&model, clipscope_model_unref);
  if (!clipscope_store_write_metadata (dl->staging, &dl->ref, error))
    return NULL;
  g_unlink (lock);
  if (g_rename (dl->staging, final) != 0)
    {
      int saved = errno;
      if (saved == EEXIST || saved == ENOTEMPTY)
        g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_EXISTS,
                     "a model named \"%s\" is already installed at %s", dl->ref.name, final);
      else
        io_error (final, "create", saved, error);
      return NULL;
    }
  return g_steal_pointer (&final);
}

static char *
fetch_and_install (Download *dl,
                   GError  **error)
{
  gboolean listed = FALSE;

  /* Written first so that a listing shows what the partial download is. */
  if (!clipscope_store_write_metadata (dl->staging, &dl->ref, error))
    return NULL;
  new_session (dl);
  if (!plan (dl, &listed, error) || !fetch_all (dl, listed, error))
    return NULL;
  if (!has_tokenizer (dl->staging))
    {
      guint first = dl->files->len;

      add_tokenizer_fallback (dl);
      for (guint i = first; i < dl->files->len; i++)
        if (!fetch_file (dl, g_ptr_array_index (dl->files, i), error))
          return NULL;
    }
  return install (dl, error);
}

static char *
run_download (Download *dl,
              GError  **error)
{
  g_autofree char *final = g_build_filename (dl->store->models_dir, dl->ref.folder, NULL);
  g_autofree char *base = g_strconcat (".", dl->ref.folder, CLIPSCOPE_STORE_PARTIAL, NULL);
  char *path = NULL;
  int lock_fd;

  if (g_file_test (final, G_FILE_TEST_IS_DIR))
    return g_steal_pointer (&final);
  dl->staging = g_build_filename (dl->store->models_dir, base, NULL);
  if ((lock_fd = open_staging (dl, error)) < 0)
    return NULL;
  path = fetch_and_install (dl, error);
  close (lock_fd);
  return path;
}

char *
clipscope_model_store_download (ClipscopeModelStore           *store,
                                const char                    *name,
                                ClipscopeDownloadProgressFunc  progress,
                                gpointer                       progress_data,
                                GCancellable                  *cancellable,
                                GError                       **error)
{
  g_auto(Download) dl = { 0 };

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  dl.store = store;
  dl.cancellable = cancellable;
  dl.progress = progress;
  dl.progress_data = progress_data;
  dl.files = g_ptr_array_new_with_free_func ((GDestroyNotify) remote_file_free);
  if (!clipscope_model_store_parse_name (store, name, &dl.ref, error)
      || !check_downloadable (&dl.ref, error))
    return NULL;
  return run_download (&dl, error);
}

/* ------------------------------------------------------------------ async */

/* Hands progress from the download thread to the caller's main context.
 * Only the latest report is kept: a busy main loop sees fewer, never a
 * backlog. */
typedef struct {
  gatomicrefcount                ref_count;
  GMainContext                  *context;
  GMutex                         lock;
  ClipscopeDownloadProgress      latest;     /* .file points into file_name */
  char                          *file_name;
  gboolean                       pending;
  ClipscopeDownloadProgressFunc  func;
  gpointer                       data;
  GDestroyNotify                 notify;
} Relay;

static Relay *
relay_ref (Relay *r)
{
  g_atomic_ref_count_inc (&r->ref_count);
  return r;
}

static gboolean
relay_notify_cb (gpointer user_data)
{
  Relay *r = user_data;

  if (r->notify != NULL)
    r->notify (r->data);
  g_main_context_unref (r->context);
  g_mutex_clear (&r->lock);
  g_free (r->file_name);
  g_free (r);
  return G_SOURCE_REMOVE;
}

/* The last reference may go on the download thread; @notify runs in the
 * caller's context all the same. */
static void
relay_unref (Relay *r)
{
  if (g_atomic_ref_count_dec (&r->ref_count))
    g_main_context_invoke (r->context, relay_notify_cb, r);
}

static gboolean
relay_dispatch_cb (gpointer user_data)
{
  Relay *r = user_data;
  ClipscopeDownloadProgress copy;
  g_autofree char *file = NULL;

  g_mutex_lock (&r->lock);
  copy = r->latest;
  file = g_strdup (r->file_name);
  r->pending = FALSE;
  g_mutex_unlock (&r->lock);
  copy.file = file;
  r->func (&copy, r->data);
  return G_SOURCE_REMOVE;
}

static void
relay_progress_cb (const ClipscopeDownloadProgress *progress,
                   gpointer                         user_data)
{
  Relay *r = user_data;
  gboolean schedule;

  g_mutex_lock (&r->lock);
  r->latest = *progress;
  if (g_strcmp0 (r->file_name, progress->file) != 0)
    {
      g_free (r->file_name);
      r->file_name = g_strdup (progress->file);
    }
  r->latest.file = NULL;
  schedule = !r->pending;
  r->pending = TRUE;
  g_mutex_unlock (&r->lock);
  if (schedule)
    {
      g_autoptr(GSource) source = g_idle_source_new ();

      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_callback (source, relay_dispatch_cb, relay_ref (r), (GDestroyNotify) relay_unref);
      g_source_set_static_name (source, "[clipscope] download progress");
      g_source_attach (source, r->context);
    }
}

typedef struct {
  ClipscopeModelStore *store;
  char                *name;
  Relay               *relay;
} DownloadJob;

static void
download_job_free (DownloadJob *job)
{
  clipscope_model_store_unref (job->store);
  g_free (job->name);
  g_clear_pointer (&job->relay, relay_unref);
  g_free (job);
}

static void
download_thread (GTask        *task,
                 gpointer      source_object,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  DownloadJob *job = task_data;
  GError *error = NULL;
  char *path = clipscope_model_store_download (job->store, job->name,
                                               job->relay && job->relay->func ? relay_progress_cb : NULL,
                                               job->relay,
                                               cancellable, &error);

  if (path == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, path, g_free);
}

/* The source tag; ISO C has no cast from a function pointer to gpointer. */
static const char download_tag;

void
clipscope_model_store_download_async (ClipscopeModelStore           *store,
                                      const char                    *name,
                                      ClipscopeDownloadProgressFunc  progress,
                                      gpointer                       progress_data,
                                      GDestroyNotify                 progress_notify,
                                      GCancellable                  *cancellable,
                                      GAsyncReadyCallback            callback,
                                      gpointer                       user_data)
{
  g_autoptr(GTask) task = NULL;
  DownloadJob *job;

  g_return_if_fail (store != NULL);
  g_return_if_fail (name != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, (gpointer) &download_tag);
  job = g_new0 (DownloadJob, 1);
  job->store = clipscope_model_store_ref (store);
  job->name = g_strdup (name);
  if (progress != NULL || progress_notify != NULL)
    {
      job->relay = g_new0 (Relay, 1);
      g_atomic_ref_count_init (&job->relay->ref_count);
      g_mutex_init (&job->relay->lock);
      job->relay->context = g_main_context_ref_thread_default ();
      job->relay->func = progress;
      job->relay->data = progress_data;
      job->relay->notify = progress_notify;
    }
  g_task_set_task_data (task, job, (GDestroyNotify) download_job_free);
  g_task_run_in_thread (task, download_thread);
}

char *
clipscope_model_store_download_finish (ClipscopeModelStore  *store,
                                       GAsyncResult         *result,
                                       GError              **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == &download_tag, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
