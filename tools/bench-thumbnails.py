#!/usr/bin/python3
"""What a thumbnail costs through libclipscope's decoder processes, next
to decoding it in the calling process with GdkPixbuf, as the desktop
application did before.

    /usr/bin/python3 tools/bench-thumbnails.py [--library PATH] [--decoder PATH] \\
        [--size 128] [--rounds 5]

Writes photos to a temporary folder (100 JPEGs of 640 × 480, 20 of
4000 × 3000 as a camera makes them, 50 PNGs of 1024 × 768), then, for
each set, makes every thumbnail (fit in --size × --size, EXIF orientation
applied) with gdk_pixbuf_new_from_file_at_scale() in this process and
with clipscope_thumbnail_load() through one decoder helper, in turn (the
order alternating from round to round), and prints the median wall time
per image of each and their ratio. Both run on one thread, one image at a
time; the helper is started before the first round.
"""

import argparse
import ctypes
import os
import statistics
import sys
import tempfile
import time

import numpy as np
from PIL import Image


def photos(folder, prefix, n, size, fmt):
    rng = np.random.default_rng(0)
    w, h = size
    base = Image.fromarray(rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)).resize(size, Image.BICUBIC)
    paths = []
    for i in range(n):
        noise = rng.integers(-20, 20, (h, w, 3))
        pixels = np.clip(np.asarray(base).astype(int) + noise, 0, 255).astype(np.uint8)
        path = os.path.join(folder, "%s-%03d.%s" % (prefix, i, fmt))
        Image.fromarray(pixels).save(path, quality=85) if fmt == "jpg" else Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


class GError(ctypes.Structure):
    _fields_ = [("domain", ctypes.c_uint32), ("code", ctypes.c_int), ("message", ctypes.c_char_p)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--library", default="_build/engine/libclipscope.so")
    ap.add_argument("--decoder", default="_build/engine/clipscope-decoder")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    os.environ["CLIPSCOPE_DECODER"] = os.path.abspath(args.decoder)

    lib = ctypes.CDLL(os.path.abspath(args.library))
    lib.clipscope_thumbnail_load.restype = ctypes.c_void_p
    lib.clipscope_thumbnail_load.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p,
                                             ctypes.c_void_p, ctypes.POINTER(ctypes.c_int),
                                             ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.POINTER(GError))]
    glib = ctypes.CDLL("libglib-2.0.so.0")
    glib.g_bytes_unref.argtypes = [ctypes.c_void_p]
    gobject = ctypes.CDLL("libgobject-2.0.so.0")
    gobject.g_object_unref.argtypes = [ctypes.c_void_p]
    pixbuf = ctypes.CDLL("libgdk_pixbuf-2.0.so.0")
    pixbuf.gdk_pixbuf_new_from_file_at_scale.restype = ctypes.c_void_p
    pixbuf.gdk_pixbuf_new_from_file_at_scale.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
                                                         ctypes.c_int, ctypes.c_void_p]
    pixbuf.gdk_pixbuf_apply_embedded_orientation.restype = ctypes.c_void_p
    pixbuf.gdk_pixbuf_apply_embedded_orientation.argtypes = [ctypes.c_void_p]

    def in_process(path):
        p = pixbuf.gdk_pixbuf_new_from_file_at_scale(path, args.size, args.size, 1, None)
        if not p:
            sys.exit("GdkPixbuf could not read %s" % path)
        oriented = pixbuf.gdk_pixbuf_apply_embedded_orientation(p)
        gobject.g_object_unref(oriented)
        gobject.g_object_unref(p)

    def helper(path):
        w, h = ctypes.c_int(), ctypes.c_int()
        err = ctypes.POINTER(GError)()
        b = lib.clipscope_thumbnail_load(path, args.size, args.size, None, None,
                                         ctypes.byref(w), ctypes.byref(h), ctypes.byref(err))
        if not b:
            sys.exit("clipscope_thumbnail_load: %s" % err.contents.message.decode())
        glib.g_bytes_unref(b)

    modes = {"GdkPixbuf in-process": in_process, "decoder helper": helper}
    with tempfile.TemporaryDirectory(prefix="clipscope-bench-thumbnails-") as tmp:
        sets = {
            "640x480 JPEG": photos(tmp, "small", 100, (640, 480), "jpg"),
            "4000x3000 JPEG": photos(tmp, "camera", 20, (4000, 3000), "jpg"),
            "1024x768 PNG": photos(tmp, "png", 50, (1024, 768), "png"),
        }
        helper(sets["640x480 JPEG"][0].encode())      # starts the helper
        print("thumbnails fit in %d x %d; median of %d rounds, ms per image" % (args.size, args.size, args.rounds))
        for name, paths in sets.items():
            encoded = [p.encode() for p in paths]
            times = {m: [] for m in modes}
            names = list(modes)
            for r in range(args.rounds):
                for m in names if r % 2 == 0 else names[::-1]:
                    start = time.perf_counter()
                    for p in encoded:
                        modes[m](p)
                    times[m].append((time.perf_counter() - start) / len(encoded) * 1000)
            med = {m: statistics.median(t) for m, t in times.items()}
            print("%-16s %s  ratio %.2f" % (name, "  ".join("%s %.2f" % (m, med[m]) for m in names),
                                           med["decoder helper"] / med["GdkPixbuf in-process"]))


if __name__ == "__main__":
    main()
