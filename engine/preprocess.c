/* preprocess.c — image decoding and CLIP's preprocessing
 *
 * CLIP was trained on images that Pillow resized, so the resampler here
 * reproduces Pillow's antialiased bicubic and bilinear filters bit for
 * bit: weights are
 * computed in double precision with Pillow's operation order, rounded to
 * 22-bit fixed point, and the two separable passes accumulate 8-bit samples
 * in 32-bit integers. A floating-point resampler would differ by a grey
 * level here and there, and those differences show up in the embeddings.
 *
 * The weights must be computed without fused multiply-adds, which would
 * round differently from Pillow. GCC does not contract floating-point
 * expressions in ISO C modes such as the project's -std=c17; a compiler
 * that does would need -ffp-contract=off.
 */
#include "preprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <string.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>


/* Pillow keeps 8 bits for the result and 2 for overshoot of the negative
 * lobes, leaving 22 fractional bits in a 32-bit accumulator. */
#define PRECISION_BITS (32 - 8 - 2)

/* How much of a file is handed to the loader at a time. */
#define CHUNK_BYTES 65536

/* Deflate's best ratio: 258 bytes from a 1-bit length code and a 1-bit
 * distance code. */
#define DEFLATE_MAX_RATIO 1032

/* ------------------------------------------------------------- images */

void
clipscope_rgb_image_free (ClipscopeRgbImage *image)
{
  if (image == NULL)
    return;

  g_free (image->rgb);
  g_free (image);
}

/* Creates a black image; negative sizes become empty ones. */
static ClipscopeRgbImage *
rgb_image_new (int width,
               int height)
{
  ClipscopeRgbImage *image = g_new0 (ClipscopeRgbImage, 1);

  image->width = MAX (width, 0);
  image->height = MAX (height, 0);
  image->rgb = g_malloc0_n ((gsize) image->width * (gsize) image->height, 3);

  return image;
}

static gboolean
rgb_image_is_empty (const ClipscopeRgbImage *image)
{
  return image->width <= 0 || image->height <= 0 || image->rgb == NULL;
}

/* ------------------------------------------------------------ decoding */

/* Files that cannot be opened or read are I/O errors; everything
 * GdkPixbuf rejects in what it reads is an image error. */
static void
set_load_error (GError      **error,
                const char   *path,
                const GError *cause)
{
  g_autofree char *name = g_filename_display_name (path);
  gboolean is_io = cause != NULL &&
                   (cause->domain == G_FILE_ERROR || cause->domain == G_IO_ERROR);

  g_set_error (error, CLIPSCOPE_ERROR,
               is_io ? CLIPSCOPE_ERROR_IO : CLIPSCOPE_ERROR_IMAGE,
               "%s: %s", name,
               cause != NULL ? cause->message : "the image cannot be decoded");
}

static const char *
file_kind (mode_t mode)
{
  if (S_ISDIR (mode))
    return "a folder";
  if (S_ISFIFO (mode))
    return "a FIFO (named pipe)";
  if (S_ISSOCK (mode))
    return "a socket";
  if (S_ISCHR (mode) || S_ISBLK (mode))
    return "a device";
  return "not a regular file";
}

/* Only regular files are images: opening a FIFO would wait for a writer
 * forever, and a device can be read without end. Links are followed. */
static gboolean
check_regular_file (const char  *path,
                    GError     **error)
{
  g_autofree char *name = g_filename_display_name (path);
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    {
      int saved = errno;

      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: %s", name, g_strerror (saved));
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: %s, not an image file", name,
                   file_kind (st.st_mode));
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_pixel_count (const char  *path,
                   int          width,
                   int          height,
                   int64_t      max_pixels,
                   GError     **error)
{
  g_autofree char *name = NULL;

  if (width > 0 && height > 0 && (int64_t) width * height <= max_pixels)
    return TRUE;

  name = g_filename_display_name (path);
  if (width <= 0 || height <= 0)
    g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IMAGE,
                 "%s: image declares an invalid size of %d × %d pixels",
                 name, width, height);
  else
    g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
                 "%s: image is %d × %d pixels, more than the limit of %" G_GINT64_FORMAT,
                 name, width, height, (gint64) max_pixels);
  return FALSE;
}

/* Whether @pixbuf has 8-bit RGB or RGBA pixels, as every loader gives. */
static gboolean
check_pixel_layout (const char  *path,
                    GdkPixbuf   *pixbuf,
                    GError     **error)
{
  int n_channels = gdk_pixbuf_get_n_channels (pixbuf);
  g_autofree char *name = NULL;

  if (gdk_pixbuf_get_colorspace (pixbuf) == GDK_COLORSPACE_RGB
      && gdk_pixbuf_get_bits_per_sample (pixbuf) == 8 && (n_channels == 3 || n_channels == 4))
    return TRUE;
  name = g_filename_display_name (path);
  g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IMAGE,
               "%s: unsupported pixel layout (%d channels of %d bits)",
               name, n_channels, gdk_pixbuf_get_bits_per_sample (pixbuf));
  return FALSE;
}

/* Copies the colour channels. Alpha is dropped without compositing, which
 * is what Pillow's convert("RGB") does, unless @params asks for the pixels
 * to be composited onto its background; each channel is then
 * (colour × alpha + background × (255 − alpha)) / 255 rounded to nearest,
 * which never falls on a tie. GdkPixbuf already expands grey and palette
 * images to RGB, and its colours are not premultiplied. */
static ClipscopeRgbImage *
rgb_from_pixbuf (const char                      *path,
                 GdkPixbuf                       *pixbuf,
                 const ClipscopePreprocessParams *params,
                 GError                         **error)
{
  int n_channels = gdk_pixbuf_get_n_channels (pixbuf);
  int rowstride = gdk_pixbuf_get_rowstride (pixbuf);
  const guint8 *pixels;
  ClipscopeRgbImage *image;
  guint8 *dst;

  if (!check_pixel_layout (path, pixbuf, error))
    return NULL;

  image = rgb_image_new (gdk_pixbuf_get_width (pixbuf), gdk_pixbuf_get_height (pixbuf));
  pixels = gdk_pixbuf_read_pixels (pixbuf);
  dst = image->rgb;
  /* Rows are walked one by one because the last row of a pixbuf need not
   * be padded to the full rowstride. */
  for (int y = 0; y < image->height; y++)
    {
      const guint8 *src = pixels + (gsize) y * (gsize) rowstride;

      if (n_channels == 4 && params->composite_alpha)
        for (int x = 0; x < image->width; x++, src += 4, dst += 3)
          for (int c = 0; c < 3; c++)
            dst[c] = (guint8) ((src[c] * src[3] + params->background[c] * (255 - src[3]) + 127)
                               / 255);
      else
        for (int x = 0; x < image->width; x++, src += n_channels, dst += 3)
          memcpy (dst, src, 3);
    }

  return image;
}

static guint32
read_le32 (const guint8 *p)
{
  return p[0] | p[1] << 8 | p[2] << 16 | (guint32) p[3] << 24;
}

/* The bytes of an uncompressed BMP's pixel rows (each padded to four
 * bytes), or 0 where they are compressed or the header is unusual. */
static guint64
bmp_pixel_bytes (const guint8 *head)
{
  gint64 width = (gint32) read_le32 (head + 18);
  gint64 height = (gint32) read_le32 (head + 22);
  guint bpp = head[28] | head[29] << 8;
  guint32 compression = read_le32 (head + 30);

  if ((compression != 0 && compression != 3) || width <= 0 || height == 0
      || (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32))
    return 0;
  return (guint64) ((width * bpp + 31) / 32 * 4) * (guint64) ABS (height);
}

/* GdkPixbuf's BMP loader sizes buffers from header fields before it
 * checks them: the offset of the pixel data, and the palette size, which
 * it reads as a signed int so that a "negative" count passes its bound
 * and becomes a 4 GB allocation. Those fields are checked here, before
 * GdkPixbuf sees the file. Real BMPs have info headers of at most 124
 * bytes and palettes of at most 256 colours. */
static gboolean
check_bmp_header (int          fd,
                  goffset      size,
                  const char  *name,
                  GError     **error)
{
  guint8 head[50];
  gssize got = pread (fd, head, sizeof head, 0);
  guint32 data_offset, info_size;
  const char *problem = NULL;

  /* An unreadable file is left for GdkPixbuf to report. */
  if (got < 18 || head[0] != 'B' || head[1] != 'M')
    return TRUE;
  data_offset = read_le32 (head + 10);
  info_size = read_le32 (head + 14);
  if (info_size > 124)
    problem = "an info header larger than any BMP version's";
  else if (data_offset > (guint64) size)
    problem = "pixel data past the end of the file";
  else if (info_size >= 40 && got >= 50 && read_le32 (head + 46) > 256)
    problem = "a palette of more than 256 colours";
  else if (info_size >= 40 && got >= 34 && bmp_pixel_bytes (head) > 0
           && data_offset + bmp_pixel_bytes (head) > (guint64) size)
    problem = "more pixel data than the file holds: it is truncated";
  if (problem == NULL)
    return TRUE;
  g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IMAGE,
               "%s: not a valid BMP image: its header declares %s", name, problem);
  return FALSE;
}

/* What is known of a file before and while it is decoded. */
typedef struct {
  const char                      *path;
  const ClipscopePreprocessParams *params;
  goffset                          size;          /* bytes in the file */
  guint8                           head[32];      /* its first bytes */
  gsize                            head_len;
  gboolean                         jpeg_huffman;  /* a Huffman-coded JPEG */
  goffset                          jpeg_scan;     /* where its first scan starts, or -1 */
  goffset                          jpeg_end;      /* where its last end-of-image marker is, or -1 */
  GError                          *refused;       /* why size-prepared stopped the decoder */
  int                              orientation;   /* from a PNG's eXIf or a WebP's EXIF chunk, 0 if none */
  int                              fit_width;     /* a thumbnail's box, or 0 for the model's input */
  int                              fit_height;
  gboolean                         keep_size;     /* decode at full size (an animation's frame) */
} Decode;

/* What a WebP file's RIFF chunks declare, read before it is decoded. An
 * animation is decoded from its first frame alone, as Pillow does by
 * default: the frame's image chunks, inside its ANMF chunk, make a still
 * WebP of their own, which is put on the canvas at the frame's offset. */
typedef struct {
  int      width;          /* the canvas */
  int      height;
  guint8   flags;          /* VP8X's: 0x10 alpha, 0x08 EXIF, 0x02 animation */
  goffset  frame_start;    /* an animation: its first frame's image chunks */
  goffset  frame_end;
  int      frame_x;
  int      frame_y;
  int      frame_width;
  int      frame_height;
} WebpInfo;

#define WEBP_ALPHA_FLAG     0x10
#define WEBP_ANIMATION_FLAG 0x02

/* The fewest bytes a file can hold @width × @height pixels in, where the
 * format bounds its compression: a file far smaller than that declares a
 * size it does not hold, and would have the decoder allocate for nothing.
 * 0 where no bound is known. */
static goffset
min_file_bytes (const Decode *d,
                int           width,
                int           height)
{
  static const int png_channels[7] = { 1, 0, 3, 1, 2, 0, 4 };
  gint64 pixels = (gint64) width * height;

  if (d->jpeg_huffman)
    /* Every 8 × 8 block of the full-resolution component takes at least
     * one bit: its DC difference's code. */
    return pixels / 64 / 8;
  if (d->head_len >= 26 && memcmp (d->head, "\x89PNG\r\n\x1a\n", 8) == 0 && d->head[25] < 7
      && png_channels[d->head[25]] > 0)
    {
      gint64 bits = (gint64) d->head[24] * png_channels[d->head[25]];
      gint64 raw = (gint64) height * (1 + ((gint64) width * bits + 7) / 8);

      return raw / DEFLATE_MAX_RATIO;
    }
  return 0;
}

/* The size a scalable image is rendered at: its shorter side the model's
 * resize, so that nothing is drawn that the model does not see. */
static void
scaled_size (int  width,
             int  height,
             int  resize,
             int *out_width,
             int *out_height)
{
  double scale = (double) resize / MIN (width, height);

  *out_width = (int) CLAMP (round (width * scale), 1, G_MAXINT);
  *out_height = (int) CLAMP (round (height * scale), 1, G_MAXINT);
}

/* The size @width × @height takes to fit in @box_width × @box_height,
 * rounded as gdk_pixbuf_new_from_file_at_scale() rounds it. */
static void
fit_size (int  width,
          int  height,
          int  box_width,
          int  box_height,
          int *out_width,
          int *out_height)
{
  if ((double) height * box_width > (double) width * box_height)
    {
      *out_width = (int) CLAMP (0.5 + (double) width * box_height / height, 1, box_width);
      *out_height = box_height;
    }
  else
    {
      *out_width = box_width;
      *out_height = (int) CLAMP (0.5 + (double) height * box_width / width, 1, box_height);
    }
}

/* Called once the loader knows the declared size, before it allocates:
 * the size is checked against the limit and what the file can hold, and
 * a scalable image is told to render at the size the model needs (or the
 * thumbnail's box); a thumbnail of a larger raster image is scaled down
 * as it decodes. A zero size stops the loader, as
 * gdk_pixbuf_get_file_info() does. */
static void
size_prepared (GdkPixbufLoader *loader,
               int              width,
               int              height,
               gpointer         user_data)
{
  Decode *d = user_data;
  GdkPixbufFormat *format = gdk_pixbuf_loader_get_format (loader);
  g_autofree char *name = g_filename_display_name (d->path);
  goffset needed;

  if (format != NULL && gdk_pixbuf_format_is_scalable (format) && width > 0 && height > 0
      && (d->fit_width > 0 || d->params->resize > 0))
    {
      if (d->fit_width > 0)
        fit_size (width, height, d->fit_width, d->fit_height, &width, &height);
      else
        scaled_size (width, height, d->params->resize, &width, &height);
      if (check_pixel_count (d->path, width, height, d->params->max_pixels, &d->refused))
        {
          gdk_pixbuf_loader_set_size (loader, width, height);
          return;
        }
    }
  else if (check_pixel_count (d->path, width, height, d->params->max_pixels, &d->refused)
           && (needed = min_file_bytes (d, width, height)) > d->size)
    g_set_error (&d->refused, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IMAGE,
                 "%s: declares %d × %d pixels, which take at least %" G_GOFFSET_FORMAT
                 " bytes in its format, but the file has %" G_GOFFSET_FORMAT,
                 name, width, height, needed, d->size);
  if (d->refused != NULL)
    gdk_pixbuf_loader_set_size (loader, 0, 0);
  else if (d->fit_width > 0 && !d->keep_size && (width > d->fit_width || height > d->fit_height))
    {
      fit_size (width, height, d->fit_width, d->fit_height, &width, &height);
      gdk_pixbuf_loader_set_size (loader, width, height);
    }
}

/* Finds where a JPEG's first scan starts by walking its marker segments,
 * and notes whether its frame is Huffman-coded (SOF0–3, SOF5–7). */
static void
parse_jpeg_markers (int     fd,
                    Decode *d)
{
  goffset pos = 2;
  guint8 m[4];

  while (pos + 4 <= d->size && pread (fd, m, 4, pos) == 4 && m[0] == 0xff)
    {
      if (m[1] == 0xff)
        {
          pos++;               /* fill byte */
          continue;
        }
      if (m[1] == 0xda)
        {
          d->jpeg_scan = pos;
          return;
        }
      if (m[1] >= 0xc0 && m[1] <= 0xcf && m[1] != 0xc4 && m[1] != 0xc8 && m[1] != 0xcc)
        d->jpeg_huffman = m[1] < 0xc8;
      pos += 2 + (m[2] << 8 | m[3]);
    }
}

/* The orientation (1–8) in EXIF data, TIFF-structured: a byte-order mark,
 * the first directory's offset, and its 12-byte entries; 0 if none. */
static int
exif_orientation (const guint8 *exif,
                  gsize         len)
{
  gboolean le;
  guint32 ifd;
  guint n;

#define U16(p) (le ? (guint) ((p)[0] | (p)[1] << 8) : (guint) ((p)[0] << 8 | (p)[1]))
#define U32(p) (le ? read_le32 (p) : (guint32) (p)[0] << 24 | (p)[1] << 16 | (p)[2] << 8 | (p)[3])
  if (len < 8 || (memcmp (exif, "II", 2) != 0 && memcmp (exif, "MM", 2) != 0))
    return 0;
  le = exif[0] == 'I';
  ifd = U32 (exif + 4);
  if (ifd > len - 2)
    return 0;
  n = U16 (exif + ifd);
  for (guint i = 0; i < n && ifd + 2 + 12 * (i + 1) <= len; i++)
    {
      const guint8 *entry = exif + ifd + 2 + 12 * i;

      /* Tag 0x0112, type SHORT, one value, in the first bytes of the field. */
      if (U16 (entry) == 0x0112 && U16 (entry + 2) == 3)
        {
          guint value = U16 (entry + 8);

          return value >= 1 && value <= 8 ? (int) value : 0;
        }
    }
  return 0;
#undef U16
#undef U32
}

/* The orientation in a PNG's eXIf chunk of @length bytes at @offset. */
static int
png_exif_orientation (int      fd,
                      goffset  offset,
                      guint32  length)
{
  guint8 exif[4096];
  gssize got = pread (fd, exif, MIN (length, sizeof exif), offset);

  return got > 0 ? exif_orientation (exif, (gsize) got) : 0;
}

static guint
read_le24 (const guint8 *p)
{
  return p[0] | p[1] << 8 | (guint) p[2] << 16;
}

/* The size a VP8 or VP8L chunk, @type, declares in its first bytes @p
 * (16 of them); FALSE for other chunks. */
static gboolean
webp_image_size (const guint8 *type,
                 const guint8 *p,
                 int          *width,
                 int          *height)
{
  if (memcmp (type, "VP8 ", 4) == 0 && memcmp (p + 3, "\x9d\x01\x2a", 3) == 0)
    {
      *width = (p[6] | p[7] << 8) & 0x3fff;
      *height = (p[8] | p[9] << 8) & 0x3fff;
      return TRUE;
    }
  if (memcmp (type, "VP8L", 4) == 0 && p[0] == 0x2f)
    {
      guint32 bits = read_le32 (p + 1);

      *width = (int) (bits & 0x3fff) + 1;
      *height = (int) (bits >> 14 & 0x3fff) + 1;
      return TRUE;
    }
  return FALSE;
}

/* Whether the image chunk among an animation frame's chunks, from @pos to
 * @end (after an ALPH chunk, if any), declares the frame's size: the
 * loader allocates for what it declares before size-prepared. */
static gboolean
webp_frame_size_matches (int             fd,
                         goffset         pos,
                         goffset         end,
                         const WebpInfo *info)
{
  for (int chunk = 0; chunk < 2 && pos + 8 <= end; chunk++)
    {
      guint8 c[8], p[16] = { 0 };
      guint32 length;
      int width = 0, height = 0;

      if (pread (fd, c, 8, pos) != 8)
        return FALSE;
      length = read_le32 (c + 4);
      if (pread (fd, p, MIN (length, sizeof p), pos + 8) < 0)
        return FALSE;
      if (webp_image_size (c, p, &width, &height))
        return width == info->frame_width && height == info->frame_height;
      if (memcmp (c, "ALPH", 4) != 0)
        return FALSE;
      pos += 8 + (goffset) length + (length & 1);
    }
  return FALSE;
}

/* Reads a WebP's chunks: its declared size from the VP8, VP8L or VP8X
 * header, its EXIF orientation and an animation's first frame. FALSE
 * where the chunks run past the end of the file, as in a truncated file
 * (the loader would keep what it has, where Pillow refuses it), or an
 * animation has no frame on its canvas. Headers it does not know are
 * left for the loader to refuse. */
static gboolean
parse_webp (int          fd,
            Decode      *d,
            WebpInfo    *info,
            const char  *name,
            GError     **error)
{
  goffset end = 8 + (goffset) read_le32 (d->head + 4), pos = 12;
  gboolean first = TRUE;

  if (end > d->size)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IMAGE,
                   "%s: the WebP data ends before the size its RIFF header declares: "
                   "the file is truncated", name);
      return FALSE;
    }
  while (pos + 8 <= end)
    {
      guint8 c[8], p[16] = { 0 };
      guint32 length;
      goffset data = pos + 8;

      if (pread (fd, c, 8, pos) != 8)
        break;
      length = read_le32 (c + 4);
      if (data + (goffset) length > end)
        {
          /* The name is shown as text whatever bytes the file holds. */
          for (int i = 0; i < 4; i++)
            c[i] = g_ascii_isprint (c[i]) ? c[i] : '?';
          g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IMAGE,
                       "%s: the WebP chunk “%.4s” runs past the end of the data: "
                       "the file is truncated", name, c);
          return FALSE;
        }
      if (pread (fd, p, MIN (length, sizeof p), data) < 0)
        break;
      if (first && webp_image_size (c, p, &info->width, &info->height))
        ;
      else if (first && memcmp (c, "VP8X", 4) == 0 && length >= 10)
        {
          info->flags = p[0];
          info->width = (int) read_le24 (p + 4) + 1;
          info->height = (int) read_le24 (p + 7) + 1;
        }
      else if (memcmp (c, "EXIF", 4) == 0 && d->orientation == 0)
        {
          guint8 exif[4096];
          gssize got = pread (fd, exif, MIN (length, sizeof exif), data);
          /* Some writers keep the "Exif\0\0" that starts a JPEG's APP1
           * data; Pillow reads the data after it. */
          gsize skip = got >= 6 && memcmp (exif, "Exif\0\0", 6) == 0 ? 6 : 0;

          if (got > 0)
            d->orientation = exif_orientation (exif + skip, (gsize) got - skip);
        }
      else if (memcmp (c, "ANMF", 4) == 0 && info->frame_end == 0 && length >= 16)
        {
          info->frame_x = 2 * (int) read_le24 (p);
          info->frame_y = 2 * (int) read_le24 (p + 3);
          info->frame_width = (int) read_le24 (p + 6) + 1;
          info->frame_height = (int) read_le24 (p + 9) + 1;
          info->frame_start = data + 16;
          info->frame_end = data + length;
        }
      first = FALSE;
      pos = data + length + (length & 1);
    }
  if ((info->flags & WEBP_ANIMATION_FLAG)
      && (info->frame_end == 0 || info->frame_x + (gint64) info->frame_width > info->width
          || info->frame_y + (gint64) info->frame_height > info->height
          || !webp_frame_size_matches (fd, info->frame_start, info->frame_end, info)))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IMAGE,
                   "%s: not a valid WebP animation: its first frame is not an image of the "
                   "size its frame header declares, inside its canvas", name);
      return FALSE;
    }
  return TRUE;
}

/* The RIFF header and VP8X chunk of a still WebP of @info's first frame,
 * whose image chunks follow them. */
static gsize
webp_frame_header (const WebpInfo *info,
                   guint8          header[30])
{
  guint32 riff = (guint32) (4 + 18 + (info->frame_end - info->frame_start));
  guint8 vp8x[10] = { info->flags & WEBP_ALPHA_FLAG };

  memcpy (header, "RIFF", 4);
  for (int i = 0; i < 4; i++)
    header[4 + i] = (guint8) (riff >> 8 * i);
  memcpy (header + 8, "WEBPVP8X\x0a\0\0\0", 12);
  for (int i = 0; i < 3; i++)
    {
      vp8x[4 + i] = (guint8) ((info->frame_width - 1) >> 8 * i);
      vp8x[7 + i] = (guint8) ((info->frame_height - 1) >> 8 * i);
    }
  memcpy (header + 20, vp8x, 10);
  return 30;
}

/* @frame on a canvas of @info's size, cleared to transparent black (or
 * black) where the frame does not cover it, as libwebp's animation
 * decoder starts a key frame; NULL if it cannot be allocated. */
static GdkPixbuf *
webp_frame_on_canvas (const WebpInfo *info,
                      GdkPixbuf      *frame)
{
  gboolean alpha = (info->flags & WEBP_ALPHA_FLAG) != 0;
  GdkPixbuf *canvas = gdk_pixbuf_new (GDK_COLORSPACE_RGB, alpha, 8, info->width, info->height);
  int from = gdk_pixbuf_get_n_channels (frame), to = alpha ? 4 : 3;
  const guint8 *src = gdk_pixbuf_read_pixels (frame);
  guint8 *dst;

  if (canvas == NULL)
    return NULL;
  gdk_pixbuf_fill (canvas, 0);
  dst = gdk_pixbuf_get_pixels (canvas);
  for (int y = 0; y < MIN (gdk_pixbuf_get_height (frame), info->frame_height); y++)
    {
      const guint8 *s = src + (gsize) y * (gsize) gdk_pixbuf_get_rowstride (frame);
      guint8 *t = dst + (gsize) (info->frame_y + y) * (gsize) gdk_pixbuf_get_rowstride (canvas)
                  + (gsize) info->frame_x * (gsize) to;

      for (int x = 0; x < MIN (gdk_pixbuf_get_width (frame), info->frame_width); x++, s += from, t += to)
        {
          memcpy (t, s, 3);
          if (to == 4)
            t[3] = from == 4 ? s[3] : 255;
        }
    }
  return canvas;
}

/* Whether a PNG's chunks run whole to its IEND chunk. GdkPixbuf's PNG
 * loader, fed incrementally, keeps the rows it has when the data stops,
 * where Pillow says the file is truncated. */
static gboolean
png_is_complete (int     fd,
                 Decode *d)
{
  goffset pos = 8;
  guint8 c[8];

  while (pos + 12 <= d->size && pread (fd, c, 8, pos) == 8)
    {
      guint32 length = (guint32) c[0] << 24 | c[1] << 16 | c[2] << 8 | c[3];

      if (memcmp (c + 4, "IEND", 4) == 0)
        return TRUE;
      if (memcmp (c + 4, "eXIf", 4) == 0 && d->orientation == 0)
        d->orientation = png_exif_orientation (fd, pos + 8, length);
      pos += 12 + (goffset) length;    /* length, type, data, CRC */
    }
  return FALSE;
}

#define PNM_MAX_VALUE (1 << 24)

/* The bytes of a binary PNM's pixels (P4, P5, P6) from its header, or 0
 * where the header cannot be read. GdkPixbuf's loader leaves the rows
 * a short file lacks black. */
static goffset
pnm_pixel_bytes (int      fd,
                 goffset *data_offset)
{
  char text[1024];
  gssize got = pread (fd, text, sizeof text - 1, 0);
  gint64 values[3] = { 0, 0, 0 };
  int n_values, kind;
  gssize i = 2;

  if (got < 3 || text[0] != 'P' || text[1] < '4' || text[1] > '6')
    return 0;
  kind = text[1] - '0';
  n_values = kind == 4 ? 2 : 3;
  for (int v = 0; v < n_values; v++)
    {
      while (i < got && (g_ascii_isspace (text[i]) || text[i] == '#'))
        if (text[i] == '#')
          while (i < got && text[i] != '\n')
            i++;
        else
          i++;
      if (i >= got || !g_ascii_isdigit (text[i]))
        return 0;
      while (i < got && g_ascii_isdigit (text[i]) && values[v] <= PNM_MAX_VALUE)
        values[v] = values[v] * 10 + (text[i++] - '0');
      if (values[v] > PNM_MAX_VALUE)
        return 0;        /* left to the pixel limit */
    }
  if (i >= got || !g_ascii_isspace (text[i]))
    return 0;
  *data_offset = i + 1;
  if (kind == 4)
    return (values[0] + 7) / 8 * values[1];
  return values[0] * values[1] * (kind == 6 ? 3 : 1) * (values[2] > 255 ? 2 : 1);
}

/* Notes the last end-of-image marker (FF D9) after the first scan; the
 * entropy-coded data cannot hold one, so a JPEG without it is cut short.
 * @buf starts at @offset. */
static void
find_jpeg_end (Decode       *d,
               const guint8 *buf,
               gsize         len,
               goffset       offset,
               guint8       *previous)
{
  for (gsize i = 0; i < len; i++)
    {
      if (*previous == 0xff && buf[i] == 0xd9 && offset + (goffset) i > d->jpeg_scan)
        d->jpeg_end = offset + (goffset) i;
      *previous = buf[i];
    }
}

/* Feeds @loader @prefix_len bytes of @prefix, then @fd's bytes from
 * @offset up to @end or its end; FALSE with @error set by the loader, a
 * read, or size_prepared()'s refusal. */
static gboolean
feed_loader (GdkPixbufLoader *loader,
             int              fd,
             const guint8    *prefix,
             gsize            prefix_len,
             goffset          offset,
             goffset          end,
             Decode          *d,
             GError         **error)
{
  g_autofree guint8 *chunk = g_malloc (CHUNK_BYTES);
  guint8 previous = 0;
  gboolean ok = prefix_len == 0 || gdk_pixbuf_loader_write (loader, prefix, prefix_len, error);

  while (ok && d->refused == NULL && offset < end)
    {
      gssize n = pread (fd, chunk, (gsize) MIN (CHUNK_BYTES, end - offset), offset);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s", g_strerror (saved));
          ok = FALSE;
          break;
        }
      if (n == 0)
        break;
      if (d->jpeg_scan >= 0)
        find_jpeg_end (d, chunk, (gsize) n, offset, &previous);
      offset += n;
      ok = gdk_pixbuf_loader_write (loader, chunk, (gsize) n, error);
    }
  /* A loader must always be closed, or it warns when finalised. */
  if (!gdk_pixbuf_loader_close (loader, ok && d->refused == NULL ? error : NULL))
    ok = FALSE;
  if (d->refused != NULL)
    {
      g_clear_error (error);
      g_propagate_error (error, g_steal_pointer (&d->refused));
      return FALSE;
    }
  return ok;
}

int
clipscope_image_open (const char  *path,
                      GError     **error)
{
  g_autofree char *name = g_filename_display_name (path);
  struct stat st;
  int fd;

  if (!check_regular_file (path, error))
    return -1;
  /* Not blocking: should the file have become a FIFO since it was
   * checked, opening it must not wait for a writer. */
  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
  if (fd < 0 || fstat (fd, &st) != 0)
    {
      int saved = errno;

      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: %s", name, g_strerror (saved));
      if (fd >= 0)
        close (fd);
      return -1;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: %s, not an image file", name,
                   file_kind (st.st_mode));
      close (fd);
      return -1;
    }
  return fd;
}

/* Decodes the open file @fd (named @path in messages) into a pixbuf with
 * one pass over it. */
static GdkPixbuf *
decode_fd (int                              fd,
           const char                      *path,
           goffset                          size,
           const ClipscopePreprocessParams *params,
           int                              fit_width,
           int                              fit_height,
           GError                         **error)
{
  g_autoptr(GdkPixbufLoader) loader = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *name = g_filename_display_name (path);
  Decode d = { path, params, 0, { 0 }, 0, FALSE, -1, -1, NULL, 0 };
  WebpInfo webp = { 0 };
  guint8 prefix[30];
  gsize prefix_len = 0;
  goffset start = 0, end = G_MAXINT64;
  goffset pnm_offset = 0;
  GdkPixbuf *pixbuf;
  gssize got;

  d.size = size;
  d.fit_width = fit_width;
  d.fit_height = fit_height;
  got = pread (fd, d.head, sizeof d.head, 0);
  d.head_len = got > 0 ? (gsize) got : 0;
  if (d.head_len >= 3 && memcmp (d.head, "\xff\xd8\xff", 3) == 0)
    parse_jpeg_markers (fd, &d);
  if (pnm_pixel_bytes (fd, &pnm_offset) > d.size - pnm_offset)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IMAGE,
                   "%s: the PNM data ends before its last row: the file is truncated", name);
      return NULL;
    }
  if (d.head_len >= 8 && memcmp (d.head, "\x89PNG\r\n\x1a\n", 8) == 0 && !png_is_complete (fd, &d))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IMAGE,
                   "%s: the PNG data ends before its IEND chunk: the file is truncated", name);
      return NULL;
    }

  if (d.head_len >= 16 && memcmp (d.head, "RIFF", 4) == 0 && memcmp (d.head + 8, "WEBP", 4) == 0)
    {
      /* The loader allocates for the declared size before it calls
       * size-prepared, so the limit is checked here first. */
      if (!parse_webp (fd, &d, &webp, name, error)
          || (webp.width > 0 && !check_pixel_count (path, webp.width, webp.height,
                                                    params->max_pixels, error)))
        return NULL;
      /* Its animation loader decodes every frame, and warns where one fails. */
      if (webp.flags & WEBP_ANIMATION_FLAG)
        {
          prefix_len = webp_frame_header (&webp, prefix);
          d.keep_size = TRUE;
          start = webp.frame_start;
          end = webp.frame_end;
        }
    }

  loader = gdk_pixbuf_loader_new ();
  g_signal_connect (loader, "size-prepared", G_CALLBACK (size_prepared), &d);
  if (!feed_loader (loader, fd, prefix, prefix_len, start, end, &d, &local_error))
    {
      if (local_error != NULL && local_error->domain == CLIPSCOPE_ERROR)
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        set_load_error (error, path, local_error);
      return NULL;
    }
  if (d.jpeg_scan >= 0 && d.jpeg_end < 0)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IMAGE,
                   "%s: the JPEG data ends before its end-of-image marker: the file is truncated",
                   name);
      return NULL;
    }
  pixbuf = gdk_pixbuf_loader_get_pixbuf (loader);
  if (pixbuf == NULL)
    {
      set_load_error (error, path, NULL);
      return NULL;
    }
  if (prefix_len > 0)
    pixbuf = webp_frame_on_canvas (&webp, pixbuf);
  else
    g_object_ref (pixbuf);
  if (pixbuf == NULL)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IMAGE,
                   "%s: not enough memory for its %d × %d canvas", name, webp.width, webp.height);
      return NULL;
    }
  /* GdkPixbuf finds the orientation of JPEG and TIFF files; that of a
   * PNG's eXIf or a WebP's EXIF chunk is given to it in the same option. */
  if (d.orientation > 0)
    {
      char value[2] = { (char) ('0' + d.orientation), '\0' };

      gdk_pixbuf_set_option (pixbuf, "orientation", value);
    }
  return pixbuf;
}

/* Decodes @fd with the checks of clipscope_image_load_fd() and applies
 * its EXIF orientation unless @params ignore it; with a box, the image is
 * made to fit in it. */
static GdkPixbuf *
decode_oriented (int                              fd,
                 const char                      *path,
                 const ClipscopePreprocessParams *params,
                 int                              fit_width,
                 int                              fit_height,
                 GError                         **error)
{
  g_autofree char *name = g_filename_display_name (path);
  g_autoptr(GdkPixbuf) decoded = NULL;
  g_autoptr(GdkPixbuf) oriented = NULL;
  struct stat st;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (params != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: not a regular file", name);
      return NULL;
    }
  /* The declared size is checked before decoding, so that a small file
   * claiming to be huge cannot make the decoder allocate without bound. */
  if (!check_bmp_header (fd, st.st_size, name, error))
    return NULL;
  decoded = decode_fd (fd, path, st.st_size, params, fit_width, fit_height, error);
  if (decoded == NULL)
    return NULL;

  oriented = params->ignore_orientation ? g_object_ref (decoded)
                                        : gdk_pixbuf_apply_embedded_orientation (decoded);
  if (oriented == NULL)
    {
      set_load_error (error, path, NULL);
      return NULL;
    }

  /* Checked again on what was decoded, whatever the header said. */
  if (!check_pixel_count (path, gdk_pixbuf_get_width (oriented),
                          gdk_pixbuf_get_height (oriented), params->max_pixels, error))
    return NULL;

  /* Turned a quarter, or an animation's canvas, it may not fit yet. */
  if (fit_width > 0 && (gdk_pixbuf_get_width (oriented) > fit_width
                        || gdk_pixbuf_get_height (oriented) > fit_height))
    {
      int width, height;
      GdkPixbuf *scaled;

      fit_size (gdk_pixbuf_get_width (oriented), gdk_pixbuf_get_height (oriented),
                fit_width, fit_height, &width, &height);
      scaled = gdk_pixbuf_scale_simple (oriented, width, height, GDK_INTERP_BILINEAR);
      if (scaled == NULL)
        {
          set_load_error (error, path, NULL);
          return NULL;
        }
      g_object_unref (oriented);
      oriented = scaled;
    }
  return g_steal_pointer (&oriented);
}

ClipscopeRgbImage *
clipscope_image_load_fd (int                              fd,
                         const char                      *path,
                         const ClipscopePreprocessParams *params,
                         GError                         **error)
{
  g_autoptr(GdkPixbuf) oriented = decode_oriented (fd, path, params, 0, 0, error);

  return oriented != NULL ? rgb_from_pixbuf (path, oriented, params, error) : NULL;
}

GBytes *
clipscope_image_thumbnail_fd (int                              fd,
                              const char                      *path,
                              const ClipscopePreprocessParams *params,
                              int                              max_width,
                              int                              max_height,
                              int                             *width,
                              int                             *height,
                              GError                         **error)
{
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  int n_channels, rowstride, w, h;
  const guint8 *pixels;
  guint8 *rgba, *dst;

  g_return_val_if_fail (max_width > 0 && max_height > 0, NULL);

  pixbuf = decode_oriented (fd, path, params, max_width, max_height, error);
  if (pixbuf == NULL || !check_pixel_layout (path, pixbuf, error))
    return NULL;
  n_channels = gdk_pixbuf_get_n_channels (pixbuf);
  w = gdk_pixbuf_get_width (pixbuf);
  h = gdk_pixbuf_get_height (pixbuf);
  rowstride = gdk_pixbuf_get_rowstride (pixbuf);
  pixels = gdk_pixbuf_read_pixels (pixbuf);
  dst = rgba = g_malloc ((gsize) w * (gsize) h * 4);
  for (int y = 0; y < h; y++)
    {
      const guint8 *src = pixels + (gsize) y * (gsize) rowstride;

      for (int x = 0; x < w; x++, src += n_channels, dst += 4)
        {
          memcpy (dst, src, 3);
          dst[3] = n_channels == 4 ? src[3] : 255;
        }
    }
  *width = w;
  *height = h;
  return g_bytes_new_take (rgba, (gsize) w * (gsize) h * 4);
}

ClipscopeRgbImage *
clipscope_image_load (const char                      *path,
                      const ClipscopePreprocessParams *params,
                      GError                         **error)
{
  ClipscopeRgbImage *image;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);

  fd = clipscope_image_open (path, error);
  if (fd < 0)
    return NULL;
  image = clipscope_image_load_fd (fd, path, params, error);
  close (fd);
  return image;
}

/* ------------------------------------------------------------ resampling */

/* The part of one resized axis that is wanted. Sizes are 64-bit because
 * resizing the shorter side of a long thin image can make the longer side
 * overflow an int even though only a crop of it is ever computed. */
typedef struct {
  gint64 size;    /* samples along the whole resized axis */
  gint64 first;   /* first sample wanted */
  int    count;   /* number of samples wanted */
} AxisWindow;

/* The source samples one output sample reads. */
typedef struct {
  int   first;    /* first source sample */
  int   count;    /* number of source samples */
  gsize offset;   /* index of its first weight in Kernel.weights */
} Span;

/* The fixed-point weights of one pass, one span per output sample. */
typedef struct {
  Span   *spans;
  gint32 *weights;
} Kernel;

static void
kernel_clear (Kernel *kernel)
{
  g_clear_pointer (&kernel->spans, g_free);
  g_clear_pointer (&kernel->weights, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Kernel, kernel_clear)

/* Keys' cubic convolution kernel with a = −0.5, written with Pillow's
 * operation order so that every double, and hence every rounded weight,
 * comes out the same. */
static double
bicubic (double x)
{
  if (x < 0.0)
    x = -x;
  if (x < 1.0)
    return (1.5 * x - 2.5) * x * x + 1.0;
  if (x < 2.0)
    return (((x - 5.0) * x + 8.0) * x - 4.0) * -0.5;
  return 0.0;
}

/* Pillow's triangle filter. */
static double
bilinear (double x)
{
  if (x < 0.0)
    x = -x;
  if (x < 1.0)
    return 1.0 - x;
  return 0.0;
}

/* A filter and its half-width in source samples when not shrinking. */
typedef struct {
  double (*func) (double x);
  double support;
} Filter;

static const Filter filters[] = {
  [CLIPSCOPE_RESAMPLE_BICUBIC] = { bicubic, 2.0 },
  [CLIPSCOPE_RESAMPLE_BILINEAR] = { bilinear, 1.0 },
};

/* Rounds half away from zero, as Pillow's normalize_coeffs_8bpc() does. */
static gint32
to_fixed (double weight)
{
  double scaled = weight * (1 << PRECISION_BITS);

  return (gint32) (weight < 0.0 ? scaled - 0.5 : scaled + 0.5);
}

static double
sample_center (const AxisWindow *window,
               int               index,
               double            scale)
{
  return ((double) (window->first + index) + 0.5) * scale;
}

/* Pillow rounds the ends of the span with a truncating cast and then
 * clamps them to the image. Clamping in double first keeps the cast
 * defined for any size and gives the same integers. */
static Span
span_at (double center,
         double support,
         int    in_size)
{
  double low = center - support + 0.5;
  double high = center + support + 0.5;
  int first = low > 0.0 ? (int) low : 0;
  int end = high < (double) in_size ? (int) high : in_size;

  return (Span) { first, MAX (end - first, 0), 0 };
}

static void
span_weights (const Span   *span,
              const Filter *filter,
              double        center,
              double      filterscale,
              double     *scratch,
              gint32     *weights)
{
  /* Pillow multiplies by the reciprocal instead of dividing by filterscale;
   * the two can differ in the last bit, which may change a rounded weight. */
  double inverse = 1.0 / filterscale;
  double sum = 0.0;

  for (int t = 0; t < span->count; t++)
    {
      scratch[t] = filter->func ((span->first + t - center + 0.5) * inverse);
      sum += scratch[t];
    }
  for (int t = 0; t < span->count; t++)
    weights[t] = to_fixed (sum != 0.0 ? scratch[t] / sum : scratch[t]);
}

/* Computes the weights that resample an axis of @in_size samples to
 * window->size samples, for the output samples inside @window only. */
static void
kernel_init (Kernel           *kernel,
             const Filter     *filter,
             int               in_size,
             const AxisWindow *window)
{
  /* Pillow passes the source box as floats, so sizes beyond 2^24 are
   * rounded the same way here. */
  double scale = (double) (float) in_size / (double) window->size;
  double filterscale = MAX (scale, 1.0);
  double support = filter->support * filterscale;
  g_autofree double *scratch = NULL;
  gsize n_weights = 0;
  int widest = 0;

  kernel->spans = g_new (Span, window->count);
  for (int i = 0; i < window->count; i++)
    {
      Span *span = &kernel->spans[i];

      *span = span_at (sample_center (window, i, scale), support, in_size);
      span->offset = n_weights;
      n_weights += (gsize) span->count;
      widest = MAX (widest, span->count);
    }

  kernel->weights = g_new (gint32, n_weights);
  scratch = g_new (double, widest);
  for (int i = 0; i < window->count; i++)
    span_weights (&kernel->spans[i], filter, sample_center (window, i, scale), filterscale,
                  scratch, kernel->weights + kernel->spans[i].offset);
}

static inline guint8
clip8 (gint32 sum)
{
  if (sum < 0)
    return 0;
  return (guint8) MIN (sum >> PRECISION_BITS, 255);
}

/* One output sample: @n source samples @step bytes apart, weighted. The
 * sum starts at one half so that the final shift rounds to nearest. The
 * normalised weights keep it well inside 32 bits, as in Pillow. */
static inline guint8
convolve (const guint8 *src,
          gsize         step,
          const gint32 *weights,
          int           n)
{
  gint32 sum = 1 << (PRECISION_BITS - 1);

  for (int t = 0; t < n; t++)
    sum += src[(gsize) t * step] * weights[t];

  return clip8 (sum);
}

/* Filters rows @row_first … @row_first + @n_rows − 1 of @src along x,
 * writing one packed row of the kernel's width per source row. */
static void
resample_horizontal (const ClipscopeRgbImage *src,
                     int                      row_first,
                     int                      n_rows,
                     const Kernel            *kernel,
                     int                      n_columns,
                     guint8                  *dst)
{
  gsize src_stride = (gsize) src->width * 3;

  for (int y = 0; y < n_rows; y++)
    {
      const guint8 *line = src->rgb + (gsize) (row_first + y) * src_stride;

      for (int x = 0; x < n_columns; x++)
        {
          const Span *span = &kernel->spans[x];
          const guint8 *taps = line + (gsize) span->first * 3;

          for (int c = 0; c < 3; c++)
            *dst++ = convolve (taps + c, 3, kernel->weights + span->offset, span->count);
        }
    }
}

/* Filters packed rows of @stride bytes along y; @src holds the source
 * rows from @row_first on. */
static void
resample_vertical (const guint8 *src,
                   gsize         stride,
                   int           row_first,
                   const Kernel *kernel,
                   int           n_rows,
                   guint8       *dst)
{
  for (int y = 0; y < n_rows; y++)
    {
      const Span *span = &kernel->spans[y];
      const guint8 *taps = src + (gsize) (span->first - row_first) * stride;

      for (gsize i = 0; i < stride; i++)
        *dst++ = convolve (taps + i, stride, kernel->weights + span->offset, span->count);
    }
}

static void
copy_window (const ClipscopeRgbImage *src,
             int                      column_first,
             int                      n_columns,
             int                      row_first,
             int                      n_rows,
             guint8                  *dst)
{
  gsize row_bytes = (gsize) n_columns * 3;

  for (int y = 0; y < n_rows; y++, dst += row_bytes)
    memcpy (dst,
            src->rgb + ((gsize) (row_first + y) * (gsize) src->width + (gsize) column_first) * 3,
            row_bytes);
}

/* Writes the part @columns × @rows of @image resized to columns->size ×
 * rows->size, packed, to @dst. Each output sample depends only on its own
 * span of source samples, so computing a window gives exactly the pixels
 * Pillow computes for the whole image. As in Pillow, an axis that keeps
 * its size is not filtered, and the horizontal pass covers only the
 * source rows that the vertical pass reads. */
static void
resize_window (const ClipscopeRgbImage *image,
               ClipscopeResample        resample,
               const AxisWindow        *columns,
               const AxisWindow        *rows,
               guint8                  *dst)
{
  const Filter *filter = &filters[resample];
  g_auto(Kernel) horizontal = { NULL, NULL };
  g_auto(Kernel) vertical = { NULL, NULL };
  g_autofree guint8 *between = NULL;
  gboolean scale_x = columns->size != image->width;
  gboolean scale_y = rows->size != image->height;
  gsize stride = (gsize) columns->count * 3;
  int row_first = (int) rows->first;
  int n_rows = rows->count;
  guint8 *target = dst;

  if (scale_y)
    {
      const Span *last;

      kernel_init (&vertical, filter, image->height, rows);
      last = &vertical.spans[rows->count - 1];
      row_first = vertical.spans[0].first;
      n_rows = last->first + last->count - row_first;
      target = between = g_malloc_n ((gsize) n_rows, stride);
    }

  if (scale_x)
    {
      kernel_init (&horizontal, filter, image->width, columns);
      resample_horizontal (image, row_first, n_rows, &horizontal, columns->count, target);
    }
  else
    copy_window (image, (int) columns->first, columns->count, row_first, n_rows, target);

  if (scale_y)
    resample_vertical (between, stride, row_first, &vertical, rows->count, dst);
}

ClipscopeRgbImage *
clipscope_image_resize (const ClipscopeRgbImage *image,
                        int                      out_width,
                        int                      out_height,
                        ClipscopeResample        resample)
{
  ClipscopeRgbImage *resized;
  AxisWindow columns, rows;

  g_return_val_if_fail (image != NULL, NULL);

  resized = rgb_image_new (out_width, out_height);
  columns = (AxisWindow) { resized->width, 0, resized->width };
  rows = (AxisWindow) { resized->height, 0, resized->height };

  /* An empty source has nothing to sample; its resized image stays black. */
  if (!rgb_image_is_empty (image) && !rgb_image_is_empty (resized))
    resize_window (image, resample, &columns, &rows, resized->rgb);

  return resized;
}

/* ----------------------------------------------------------- the pipeline */

/* Where the crop lies in the resized image. Along an axis shorter than the
 * crop, the whole axis is used and @pad padding samples come before it. */
typedef struct {
  AxisWindow columns;
  AxisWindow rows;
  int        pad_x;
  int        pad_y;
} CropLayout;

/* torchvision and Hugging Face compute int(resize × long / short) in
 * Python, which multiplies exactly and then divides in double precision;
 * the integer product converts to double exactly for any real image. */
static void
resized_size (int     width,
              int     height,
              int     resize,
              gint64 *out_width,
              gint64 *out_height)
{
  int shorter = MIN (width, height);
  int longer = MAX (width, height);
  gint64 scaled = (gint64) ((double) ((gint64) resize * longer) / shorter);

  *out_width = width <= height ? resize : scaled;
  *out_height = width <= height ? scaled : resize;
}

static void
crop_axis (gint64      size,
           int         crop,
           AxisWindow *window,
           int        *pad)
{
  window->size = size;
  if (size >= crop)
    {
      /* torchvision rounds (size − crop) / 2 with Python's round(), which
       * breaks ties towards the even neighbour. */
      gint64 excess = size - crop;
      gint64 offset = excess / 2;

      if (excess % 2 == 1 && offset % 2 == 1)
        offset++;
      window->first = offset;
      window->count = crop;
      *pad = 0;
    }
  else
    {
      /* torchvision pads with zeros, (crop − size) // 2 of them before. */
      window->first = 0;
      window->count = (int) size;
      *pad = (crop - (int) size) / 2;
    }
}

static void
write_normalised (const guint8                    *pixels,
                  const CropLayout                *layout,
                  const ClipscopePreprocessParams *params,
                  float                           *out)
{
  int crop = params->crop;
  float table[256];

  for (int c = 0; c < 3; c++)
    {
      /* The same float operations as torchvision's ToTensor and Normalize. */
      for (int v = 0; v < 256; v++)
        table[v] = ((float) v / 255.0f - params->mean[c]) / params->std[c];

      for (int y = 0; y < crop; y++)
        for (int x = 0; x < crop; x++)
          {
            int sx = x - layout->pad_x;
            int sy = y - layout->pad_y;
            gboolean inside = sx >= 0 && sx < layout->columns.count &&
                              sy >= 0 && sy < layout->rows.count;

            *out++ = table[inside ? pixels[((gsize) sy * (gsize) layout->columns.count +
                                            (gsize) sx) * 3 + (gsize) c] : 0];
          }
    }
}

void
clipscope_image_preprocess (const ClipscopeRgbImage         *image,
                            const ClipscopePreprocessParams *params,
                            float                           *out)
{
  CropLayout layout = { { 0, 0, 0 }, { 0, 0, 0 }, 0, 0 };
  g_autofree guint8 *pixels = NULL;

  g_return_if_fail (image != NULL && params != NULL);

  /* An empty crop writes nothing, so @out may then be NULL. */
  if (params->crop <= 0)
    return;
  g_return_if_fail (out != NULL);

  /* An empty image, or a resize to nothing, leaves only padding. */
  if (!rgb_image_is_empty (image) && params->squash)
    {
      layout.columns = (AxisWindow) { params->crop, 0, params->crop };
      layout.rows = (AxisWindow) { params->crop, 0, params->crop };
    }
  else if (!rgb_image_is_empty (image) && params->resize > 0)
    {
      gint64 width, height;

      resized_size (image->width, image->height, params->resize, &width, &height);
      crop_axis (width, params->crop, &layout.columns, &layout.pad_x);
      crop_axis (height, params->crop, &layout.rows, &layout.pad_y);
    }

  if (layout.columns.count > 0 && layout.rows.count > 0)
    {
      pixels = g_malloc_n ((gsize) layout.columns.count * (gsize) layout.rows.count, 3);
      resize_window (image, params->resample, &layout.columns, &layout.rows, pixels);
    }

  write_normalised (pixels, &layout, params, out);
}

gboolean
clipscope_preprocess_file (const char                      *path,
                           const ClipscopePreprocessParams *params,
                           float                           *out,
                           GError                         **error)
{
  g_autoptr(ClipscopeRgbImage) image = NULL;

  g_return_val_if_fail (params != NULL, FALSE);

  image = clipscope_image_load (path, params, error);
  if (image == NULL)
    return FALSE;

  clipscope_image_preprocess (image, params, out);
  return TRUE;
}
