#!/usr/bin/python3
"""Checks Clipscope's image preprocessing against Pillow.

CLIP's reference preprocessing decodes with Pillow, converts to RGB, resizes
the shorter side with Image.BICUBIC, centre-crops the way torchvision does
and normalises. Clipscope reimplements all of it in C, so this test builds
images of many sizes and kinds, runs the preprocess-dump helper on them and
requires the results to match Pillow's bit for bit:

  * the full pipeline: every float of the [3, crop, crop] tensor within
    1e-5, which means every 8-bit sample identical;
  * the same with transparent pixels composited onto a background colour
    (--background, what a model's "alpha_background" asks for) against
    compositing written out with numpy;
  * the resampler alone (--resize-only): byte-identical to Image.resize for
    a grid of upscales, downscales and one-axis resizes;
  * SigLIP's and Chinese-CLIP's preprocessing: the whole image squashed to
    the input size (--squash), with the bicubic or the bilinear filter
    (--bilinear), as Hugging Face's processors and open_clip's "squash"
    resize mode do it;
  * bad input: oversized, undecodable, empty or missing files must fail
    with exit status 1 and a message naming the file; truncated files may
    decode partially but must not crash.

The helper is found through $CLIPSCOPE_PREPROCESS_DUMP, /tmp/preprocess-dump
by default. Exit status 0 means every check passed.
"""

import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_reference import composite_rgb  # noqa: E402

DUMP = os.environ.get("CLIPSCOPE_PREPROCESS_DUMP", "/tmp/preprocess-dump")

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)

# Matching float32 operations give identical floats; the tolerance only
# absorbs a different but equivalent order of float operations. One grey
# level is worth about 0.015 after normalisation, so 1e-5 still demands
# identical 8-bit samples.
TOLERANCE = 1e-5

BICUBIC = getattr(Image, "Resampling", Image).BICUBIC
BILINEAR = getattr(Image, "Resampling", Image).BILINEAR

failures = []
stats = {"tensor_max_diff": 0.0, "tensor_cases": 0, "resize_cases": 0}


def fail(message):
    failures.append(message)
    print("FAIL: " + message, flush=True)


def run_dump(*args, timeout=300):
    return subprocess.run([DUMP, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


# ------------------------------------------------------------------ images

def content(width, height, seed):
    """Gradients, noise and saturated blocks: noise and hard 0/255 edges
    make the bicubic lobes overshoot, which exercises the clamping."""
    rng = np.random.default_rng(seed)
    x = np.arange(width, dtype=np.float32)[None, :]
    y = np.arange(height, dtype=np.float32)[:, None]
    pixels = np.empty((height, width, 3), dtype=np.float32)
    pixels[..., 0] = 255.0 * x / max(width - 1, 1)
    pixels[..., 1] = 255.0 * y / max(height - 1, 1)
    pixels[..., 2] = 127.5 + 127.5 * np.sin((x + 2.0 * y) / 7.0)
    pixels += rng.integers(-60, 61, size=pixels.shape, dtype=np.int8)
    pixels = np.clip(pixels, 0, 255).astype(np.uint8)
    for _ in range(4):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        x1 = x0 + rng.integers(1, max(width // 3, 2))
        y1 = y0 + rng.integers(1, max(height // 3, 2))
        pixels[y0:y1, x0:x1] = rng.choice([0, 255], size=3)
    return pixels


def rgb_source(directory, width, height):
    """An RGB PNG of the given size, written once and shared by the checks."""
    path = os.path.join(directory, "rgb-%dx%d.png" % (width, height))
    if not os.path.exists(path):
        pixels = content(width, height, width * 7919 + height)
        Image.fromarray(pixels, "RGB").save(path, compress_level=1)
    return path


def save_exif_jpeg(directory, orientation, extension="jpg"):
    """An image with EXIF orientation @orientation: in a JPEG's APP1
    segment, a PNG's eXIf chunk or a WebP's EXIF chunk."""
    path = os.path.join(directory, "exif-%d.%s" % (orientation, extension))
    exif = Image.Exif()
    exif[0x0112] = orientation
    image = Image.fromarray(content(320, 200, 40 + orientation), "RGB")
    if extension == "jpg":
        image.save(path, quality=92, exif=exif.tobytes())
    else:
        image.save(path, exif=exif.tobytes())
    # Without the tag both sides would agree trivially.
    with Image.open(path) as image:
        if image.getexif().get(0x0112) != orientation:
            fail("%s: Pillow did not write EXIF orientation %d" % (path, orientation))
    return path


def make_pipeline_images(directory):
    """Returns (label, path) pairs covering sizes, modes and formats."""
    images = []
    sizes = [(1, 1), (2, 3), (7, 300), (301, 199), (640, 480), (224, 224),
             (225, 224), (100, 1000), (1000, 57), (1, 300), (400, 2),
             (4000, 3000)]
    for w, h in sizes:
        images.append(("RGB %dx%d" % (w, h), rgb_source(directory, w, h)))

    rgb = Image.fromarray(content(333, 250, 100), "RGB")

    path = os.path.join(directory, "grey.png")
    rgb.convert("L").save(path)
    images.append(("L 333x250", path))

    path = os.path.join(directory, "grey-alpha.png")
    grey_alpha = rgb.convert("L").convert("LA")
    grey_alpha.putalpha(Image.fromarray(content(333, 250, 101)[..., 0]))
    grey_alpha.save(path)
    images.append(("LA 333x250", path))

    # Alpha varies from opaque to fully transparent, with colour left
    # under the transparent pixels: convert("RGB") keeps that colour.
    path = os.path.join(directory, "alpha.png")
    rgba = Image.fromarray(content(260, 300, 102), "RGB").convert("RGBA")
    alpha = content(260, 300, 103)[..., 1]
    alpha[:40] = 0
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(path)
    images.append(("RGBA 260x300", path))

    path = os.path.join(directory, "palette.png")
    rgb.resize((210, 330)).quantize(colors=64).save(path)
    images.append(("P 210x330", path))

    path = os.path.join(directory, "palette-transparent.png")
    rgb.quantize(colors=16).save(path, transparency=3)
    images.append(("P+tRNS 333x250", path))

    path = os.path.join(directory, "photo.jpg")
    rgb.save(path, quality=90)
    images.append(("JPEG 4:2:0 333x250", path))

    path = os.path.join(directory, "photo-444.jpg")
    rgb.save(path, quality=95, subsampling=0)
    images.append(("JPEG 4:4:4 333x250", path))

    path = os.path.join(directory, "progressive.jpg")
    rgb.save(path, quality=85, progressive=True)
    images.append(("JPEG progressive 333x250", path))

    path = os.path.join(directory, "grey.jpg")
    rgb.convert("L").save(path, quality=90)
    images.append(("JPEG grey 333x250", path))

    path = os.path.join(directory, "cmyk.jpg")
    rgb.convert("CMYK").save(path, quality=90)
    images.append(("JPEG CMYK 333x250", path))

    for extension in ("gif", "bmp", "tiff", "ppm"):
        path = os.path.join(directory, "other." + extension)
        rgb.save(path)
        images.append((extension.upper() + " 333x250", path))

    path = os.path.join(directory, "deep.png")
    with open(path, "wb") as f:
        f.write(png_rgb16(content(333, 250, 104)))
    images.append(("16-bit RGB PNG 333x250", path))

    images += make_webp_images(directory, rgb)

    for extension in ("jpg", "png", "webp"):
        for orientation in (3, 6, 8):
            images.append(("%s EXIF orientation %d" % (extension.upper(), orientation),
                           save_exif_jpeg(directory, orientation, extension)))
    return images


def webp_canvas_grown(data, extra_width, extra_height, x, y):
    """An animated WebP whose canvas is larger than its first frame, and
    the frame at (@x, @y) (even numbers), as an editor may write it."""
    data = bytearray(data)
    assert data[12:16] == b"VP8X" and data.find(b"ANMF") > 0
    for at, extra in ((24, extra_width), (27, extra_height)):
        size = int.from_bytes(data[at:at + 3], "little") + extra
        data[at:at + 3] = size.to_bytes(3, "little")
    frame = data.find(b"ANMF") + 8
    data[frame:frame + 3] = (x // 2).to_bytes(3, "little")
    data[frame + 3:frame + 6] = (y // 2).to_bytes(3, "little")
    return bytes(data)


def make_webp_images(directory, rgb):
    """Still WebPs of every kind, and animations, whose first frame is what
    Pillow (and so CLIP's preprocessing) reads by default."""
    images = []
    rgba = Image.fromarray(content(260, 300, 105), "RGB").convert("RGBA")
    alpha = content(260, 300, 106)[..., 2]
    alpha[:, :30] = 0
    rgba.putalpha(Image.fromarray(alpha))
    for label, image, options in (("lossy", rgb, {"quality": 85}),
                                  ("lossless", rgb, {"lossless": True}),
                                  ("lossy RGBA", rgba, {"quality": 85}),
                                  ("lossless RGBA", rgba, {"lossless": True})):
        path = os.path.join(directory, "%s.webp" % label.replace(" ", "-"))
        image.save(path, **options)
        images.append(("WebP %s %dx%d" % (label, *image.size), path))

    frames = [Image.fromarray(content(190, 170, 110 + i), "RGB") for i in range(3)]
    for label, first, options in (("lossy", frames[0], {"quality": 80}),
                                  ("lossless RGBA", rgba, {"lossless": True})):
        path = os.path.join(directory, "animated-%s.webp" % label.replace(" ", "-"))
        rest = [frame.convert(first.mode).resize(first.size) for frame in frames[1:]]
        first.save(path, save_all=True, append_images=rest, duration=[80, 120, 40], loop=0,
                   **options)
        with Image.open(path) as image:
            if getattr(image, "n_frames", 1) != 3:
                fail("%s: Pillow did not write 3 frames" % path)
        images.append(("animated WebP %s, first frame" % label, path))
        with open(path, "rb") as f:
            grown = webp_canvas_grown(f.read(), 40, 31, 20, 12)
        path = path.replace(".webp", "-offset.webp")
        with open(path, "wb") as f:
            f.write(grown)
        images.append(("animated WebP %s, first frame at (20, 12) on a larger canvas" % label,
                       path))
    return images


# --------------------------------------------------------------- reference

def reference_tensor(path, resize, crop, background=None, squash=False, resample=BICUBIC):
    """Pillow + torchvision's Resize(resize), CenterCrop(crop), ToTensor(),
    Normalize(mean, std), written out with numpy; transparent pixels
    composited onto @background first if it is given. With @squash, the
    image is resized to crop × crop instead (Hugging Face's resize to
    {"height", "width"}, open_clip's resize_mode "squash")."""
    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image)
        if background is None:
            image = image.convert("RGB")
        else:
            image = composite_rgb(image, background)
    if squash:
        pixels = np.asarray(image.resize((crop, crop), resample), dtype=np.uint8)
        tensor = pixels.astype(np.float32) / np.float32(255.0)
        return np.ascontiguousarray(((tensor - MEAN) / STD).transpose(2, 0, 1))
    w, h = image.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = resize, int(resize * long / short)
    size = (new_short, new_long) if w <= h else (new_long, new_short)
    pixels = np.asarray(image.resize(size, BICUBIC), dtype=np.uint8)
    pixels = center_crop(pixels, crop)
    tensor = pixels.astype(np.float32) / np.float32(255.0)
    tensor = (tensor - MEAN) / STD
    return np.ascontiguousarray(tensor.transpose(2, 0, 1))


def center_crop(pixels, crop):
    """torchvision's center_crop: zero padding when too small, then an
    offset rounded with Python's round()."""
    h, w = pixels.shape[:2]
    if crop > w or crop > h:
        pad_left = (crop - w) // 2 if crop > w else 0
        pad_top = (crop - h) // 2 if crop > h else 0
        pad_right = (crop - w + 1) // 2 if crop > w else 0
        pad_bottom = (crop - h + 1) // 2 if crop > h else 0
        pixels = np.pad(pixels, ((pad_top, pad_bottom), (pad_left, pad_right), (0, 0)))
        h, w = pixels.shape[:2]
    top = int(round((h - crop) / 2.0))
    left = int(round((w - crop) / 2.0))
    return pixels[top:top + crop, left:left + crop]


def to_levels(tensor):
    """Undoes the normalisation, for diagnostics in grey levels."""
    values = tensor.transpose(1, 2, 0) * STD + MEAN
    return np.rint(values * 255.0).astype(np.int32)


# ------------------------------------------------------------------ checks

def check_tensor(label, path, resize, crop, out, background=None, squash=False,
                 resample=BICUBIC):
    flags = (["--squash"] if squash else []) + (["--bilinear"] if resample == BILINEAR else [])
    if flags:
        label += " " + " ".join(flags)
        result = run_dump(*flags, path, resize, crop, out)
    elif background is not None:
        label += " on background %s" % (background,)
        result = run_dump("--background", ",".join(map(str, background)),
                          path, resize, crop, out)
    else:
        result = run_dump(path, resize, crop, out)
    if result.returncode != 0:
        fail("%s (resize %d, crop %d): exit %d: %s"
             % (label, resize, crop, result.returncode, result.stderr.strip()))
        return
    ours = np.fromfile(out, dtype=np.float32)
    if ours.size != 3 * crop * crop:
        fail("%s: %d floats written, expected %d" % (label, ours.size, 3 * crop * crop))
        return
    ours = ours.reshape(3, crop, crop)
    expected = reference_tensor(path, resize, crop, background, squash, resample)
    diff = float(np.abs(ours - expected).max()) if crop > 0 else 0.0
    stats["tensor_cases"] += 1
    stats["tensor_max_diff"] = max(stats["tensor_max_diff"], diff)
    if diff > TOLERANCE:
        levels = np.abs(to_levels(ours) - to_levels(expected))
        where = np.unravel_index(np.argmax(levels), levels.shape)
        fail("%s (resize %d, crop %d): max |diff| %.3g; %d samples differ, "
             "up to %d grey levels (first worst at y=%d x=%d c=%d)"
             % (label, resize, crop, diff, int(np.count_nonzero(levels)),
                int(levels.max()), *where))


def check_pipeline(directory):
    out = os.path.join(directory, "tensor.bin")
    for label, path in make_pipeline_images(directory):
        check_tensor(label, path, 224, 224, out)

    # Other resize/crop pairs: a larger resize than crop (as for 336-pixel
    # models that resize to 384), and resizes smaller than the crop, where
    # torchvision pads with zeros.
    for name in ("rgb-301x199.png", "rgb-7x300.png", "rgb-1x1.png", "rgb-1000x57.png"):
        path = os.path.join(directory, name)
        for resize, crop in ((256, 224), (100, 224), (223, 224), (5, 3), (224, 1)):
            check_tensor(name, path, resize, crop, out)

    # Transparent pixels composited onto a colour; images without alpha
    # stay as they are.
    images = dict(make_pipeline_images(directory))
    for label in ("RGBA 260x300", "LA 333x250", "P+tRNS 333x250", "RGB 301x199",
                  "WebP lossy RGBA 260x300",
                  "animated WebP lossless RGBA, first frame at (20, 12) on a larger canvas"):
        for background in ((255, 255, 255), (0, 0, 0), (37, 140, 250)):
            check_tensor(label, images[label], 224, 224, out, background)
    check_alpha_background(directory)

    # Squashed, with either filter: every size and kind of image, and
    # input sizes that enlarge and shrink.
    for label, path in make_pipeline_images(directory):
        for resample in (BICUBIC, BILINEAR):
            check_tensor(label, path, 224, 224, out, squash=True, resample=resample)
    for name in ("rgb-301x199.png", "rgb-1x1.png", "rgb-1000x57.png", "rgb-4000x3000.png"):
        for side in (16, 256, 384):
            for resample in (BICUBIC, BILINEAR):
                check_tensor(name, os.path.join(directory, name), side, side, out,
                             squash=True, resample=resample)

    # A resize of zero leaves nothing but padding.
    path = os.path.join(directory, "rgb-2x3.png")
    result = run_dump(path, 0, 4, out)
    padding = np.broadcast_to(((0.0 - MEAN) / STD)[:, None, None], (3, 4, 4))
    if result.returncode != 0 or not np.allclose(
            np.fromfile(out, dtype=np.float32).reshape(3, 4, 4), padding, atol=TOLERANCE):
        fail("resize 0 should give only padding: exit %d %s"
             % (result.returncode, result.stderr.strip()))


def check_alpha_background(directory):
    """Compositing itself, away from resizing: one-pixel images at a few
    alphas, each giving one composited pixel, against the formula."""
    out = os.path.join(directory, "pixel.bin")
    colour = (200, 13, 128)
    for background in ((255, 255, 255), (1, 254, 128)):
        for alpha in (0, 1, 127, 128, 254, 255):
            path = os.path.join(directory, "pixel-%d.png" % alpha)
            Image.fromarray(np.array([[colour + (alpha,)]], dtype=np.uint8), "RGBA").save(path)
            result = run_dump("--background", ",".join(map(str, background)), path, 1, 1, out)
            if result.returncode != 0:
                fail("pixel alpha %d: exit %d: %s" % (alpha, result.returncode,
                                                      result.stderr.strip()))
                continue
            got = to_levels(np.fromfile(out, dtype=np.float32).reshape(3, 1, 1))[0, 0]
            want = [round((c * alpha + b * (255 - alpha)) / 255)
                    for c, b in zip(colour, background)]
            if list(got) != want:
                fail("pixel %s at alpha %d on %s: got %s, expected %s"
                     % (colour, alpha, background, list(got), want))


def resize_reference(path, width, height, resample=BICUBIC):
    with Image.open(path) as image:
        resized = image.convert("RGB").resize((width, height), resample)
    return np.asarray(resized, dtype=np.uint8)


def check_resize(directory, source, width, height, resample=BICUBIC):
    path = rgb_source(directory, *source)
    out = os.path.join(directory, "resized.rgb")
    flags = ["--bilinear"] if resample == BILINEAR else []
    label = "resize %dx%d -> %dx%d%s" % (*source, width, height, " bilinear" if flags else "")
    result = run_dump(*flags, "--resize-only", path, width, height, out)
    if result.returncode != 0:
        fail("%s: exit %d: %s" % (label, result.returncode, result.stderr.strip()))
        return
    ours = np.fromfile(out, dtype=np.uint8)
    expected = resize_reference(path, width, height, resample)
    stats["resize_cases"] += 1
    if ours.size != expected.size:
        fail("%s: %d bytes written, expected %d" % (label, ours.size, expected.size))
        return
    ours = ours.reshape(expected.shape)
    if not np.array_equal(ours, expected):
        diff = np.abs(ours.astype(np.int32) - expected)
        where = np.unravel_index(np.argmax(diff), diff.shape)
        fail("%s: %d bytes differ, up to %d (first worst at y=%d x=%d c=%d)"
             % (label, int(np.count_nonzero(diff)), int(diff.max()), *where))


def check_resize_grid(directory):
    ins = [1, 2, 3, 7, 13, 224, 225, 500, 4000]
    outs = [1, 2, 5, 13, 223, 224, 225, 448]
    # One axis at a time, the other kept (so Pillow skips that pass) …
    for n_in in ins:
        for n_out in outs:
            for resample in (BICUBIC, BILINEAR):
                check_resize(directory, (n_in, 9), n_out, 9, resample)
                check_resize(directory, (9, n_in), 9, n_out, resample)
    # … and both axes, in every mix of enlarging and shrinking.
    for source, size in [((4000, 3000), (298, 224)), ((4000, 3000), (224, 224)),
                         ((13, 17), (224, 293)), ((1, 1), (224, 224)),
                         ((1, 1), (3, 1)), ((1000, 1), (224, 3)),
                         ((7, 300), (224, 9600)), ((301, 199), (338, 224)),
                         ((640, 480), (299, 224)), ((640, 480), (641, 479)),
                         ((224, 224), (224, 224)), ((500, 13), (1, 1)),
                         ((225, 224), (224, 225))]:
        for resample in (BICUBIC, BILINEAR):
            check_resize(directory, source, *size, resample)

    # Pillow refuses empty sizes; Clipscope returns an empty image.
    path = rgb_source(directory, 13, 17)
    out = os.path.join(directory, "empty.rgb")
    result = run_dump("--resize-only", path, 0, 5, out)
    if result.returncode != 0 or os.path.getsize(out) != 0:
        fail("resize to 0x5 should write an empty file: exit %d %s"
             % (result.returncode, result.stderr.strip()))


# ---------------------------------------------------------------- bad input

def png_chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_rgb16(pixels):
    """A 16-bit RGB PNG, which Pillow opens as 8-bit RGB by dropping the low
    byte. (16-bit greyscale is left out: Pillow clips it to 255 instead.)"""
    height, width = pixels.shape[:2]
    low = (np.arange(width, dtype=">u2") * 37 % 256)[None, :, None]
    deep = (pixels.astype(">u2") << 8) | low
    rows = b"".join(b"\0" + deep[y].tobytes() for y in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(rows))
            + png_chunk(b"IEND", b""))


def png_claiming(width, height, with_data=True):
    """A tiny PNG whose header declares @width × @height RGB pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = png_chunk(b"IHDR", header)
    if with_data:
        data += png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + data + png_chunk(b"IEND", b"")


def expect_failure(label, path, must_mention, max_seconds=None):
    out = os.path.join(os.path.dirname(path) or ".", "never-written.bin")
    start = time.monotonic()
    result = run_dump(path, 224, 224, out)
    elapsed = time.monotonic() - start
    message = result.stderr.strip()
    if result.returncode != 1:
        fail("%s: exit %d, expected 1 (stderr: %s)" % (label, result.returncode, message))
        return
    if not message.startswith("error: "):
        fail("%s: stderr should start with 'error: ': %r" % (label, message))
    for word in must_mention:
        if word not in message:
            fail("%s: message should mention %r: %r" % (label, word, message))
    if max_seconds is not None and elapsed > max_seconds:
        fail("%s: took %.1f s, expected under %.0f s" % (label, elapsed, max_seconds))
    print("ok: %s -> %s" % (label, message), flush=True)


def expect_no_crash(label, path):
    """Damaged files may decode partially or fail, but must not crash."""
    out = os.path.join(os.path.dirname(path), "damaged.bin")
    result = run_dump(path, 224, 224, out)
    if result.returncode == 0:
        if os.path.getsize(out) != 3 * 224 * 224 * 4:
            fail("%s: succeeded but wrote %d bytes" % (label, os.path.getsize(out)))
    elif result.returncode != 1:
        fail("%s: exit %d (stderr: %s)" % (label, result.returncode, result.stderr.strip()))
    print("ok: %s -> exit %d %s" % (label, result.returncode, result.stderr.strip()),
          flush=True)


def check_bad_input(directory):
    def write(name, data):
        path = os.path.join(directory, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    path = write("huge.png", png_claiming(30000, 30000))
    expect_failure("30000x30000 PNG", path, ["huge.png", "limit", "30000"], max_seconds=10)

    path = write("huge-header-only.png", png_claiming(30000, 30000, with_data=False))
    expect_failure("30000x30000 PNG without data", path, ["huge-header-only.png"], max_seconds=10)

    path = write("zero-width.png", png_claiming(0, 10))
    expect_failure("0x10 PNG", path, ["zero-width.png"])

    noise = np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    path = write("noise.png", noise)
    expect_failure("random bytes", path, ["noise.png"])

    path = write("empty.jpg", b"")
    expect_failure("empty file", path, ["empty.jpg"])

    path = os.path.join(directory, "does-not-exist.png")
    expect_failure("missing file", path, ["does-not-exist.png"])

    path = os.path.join(directory, "a-directory.png")
    os.mkdir(path)
    expect_failure("directory", path, ["a-directory.png"])

    with open(os.path.join(directory, "rgb-640x480.png"), "rb") as f:
        png = f.read()
    with open(os.path.join(directory, "photo.jpg"), "rb") as f:
        jpeg = f.read()
    for name in ("lossy.webp", "lossless-RGBA.webp", "animated-lossy.webp"):
        with open(os.path.join(directory, name), "rb") as f:
            webp = f.read()
        for fraction in (0.1, 0.5, 0.99):
            path = write("cut-" + name, webp[:int(len(webp) * fraction)])
            expect_failure("%s cut at %d%%" % (name, fraction * 100), path,
                           ["cut-" + name, "truncated"])
        # Cut, with the RIFF header's size made the cut file's.
        cut = bytearray(webp[:len(webp) // 2])
        cut[4:8] = struct.pack("<I", len(cut) - 8)
        expect_failure("%s cut, RIFF size rewritten" % name, write("resized-" + name, bytes(cut)),
                       ["resized-" + name, "truncated"])
    for fraction in (0.1, 0.5, 0.9):
        expect_no_crash("PNG cut at %d%%" % (fraction * 100),
                        write("cut.png", png[:int(len(png) * fraction)]))
        expect_no_crash("JPEG cut at %d%%" % (fraction * 100),
                        write("cut.jpg", jpeg[:int(len(jpeg) * fraction)]))
    expect_no_crash("JPEG header only", write("header.jpg", jpeg[:200]))


def main():
    if not os.access(DUMP, os.X_OK):
        print("FAIL: %s is not an executable; build tests/preprocess-dump.c or set "
              "CLIPSCOPE_PREPROCESS_DUMP" % DUMP)
        return 1

    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="clipscope-preprocess-") as directory:
        check_pipeline(directory)
        check_resize_grid(directory)
        check_bad_input(directory)

    print("%d tensors compared, max |diff| %.3g; %d resizes compared; %.1f s"
          % (stats["tensor_cases"], stats["tensor_max_diff"], stats["resize_cases"],
             time.monotonic() - start))
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
