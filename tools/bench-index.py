#!/usr/bin/python3
"""Speed and size of the search index.

    /usr/bin/python3 tools/bench-index.py [--clipscope PATH] [--model DIR]
        [--images 48] [--rounds 3] [--rows 100000] [--queries 50]

1. Indexing throughput next to `clipscope embed` on the same photos:
   --images JPEG photos of 1600 × 1200 are written, then `embed --image …`
   and `index` into a fresh index file are run alternately --rounds times
   (same backend, same batch), and the median wall times are reported with
   their ratio. Both decode and encode every image; `index` also hashes
   each file and writes the rows.
2. Index size per image: the index file's bytes (after a WAL checkpoint)
   over its rows.
3. Query time over --rows stored embeddings: an index of that many random
   normalised float16 rows is written (with the description the model's
   own index carries), then libclipscope is called through ctypes:
   clipscope_index_search() is timed --queries times with a random query
   after a first search that reads the rows; the median and the worst are
   reported, with the time of the first (the read).

Without --model a ViT-B/32-sized random model (Hugging Face layout,
float32) is written to a temporary folder.
"""

import argparse
import ctypes
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import tinyclip  # noqa: E402


def write_photos(folder, n):
    from PIL import Image
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:1200, 0:1600]
    paths = []
    for i in range(n):
        # Smooth colour fields with noise: decodes like a photo, not like noise.
        r = (np.sin(x / (50 + i) + i) * 100 + 128)
        g = (np.cos(y / (40 + 2 * i)) * 100 + 128)
        b = ((x + y + 13 * i) % 256)
        img = np.stack([r, g, b], axis=-1) + rng.normal(0, 8, (1200, 1600, 3))
        path = os.path.join(folder, "photo%03d.jpg" % i)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, quality=90)
        paths.append(path)
    return paths


def timed(args, env=None):
    t0 = time.perf_counter()
    p = subprocess.run(args, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(args[:3]), p.stderr))
    return elapsed, p.stdout


def bench_throughput(cli, model, photos, work, rounds, backend):
    paths = write_photos(photos, args.images)
    embed_times, index_times = [], []
    index_file = os.path.join(work, "throughput.sqlite")
    for r in range(rounds):
        t, _ = timed([cli, "embed", "--model", model, "--backend", backend,
                      *sum((["--image", p] for p in paths), [])])
        embed_times.append(t)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(index_file + suffix):
                os.remove(index_file + suffix)
        t, out = timed([cli, "index", "--model", model, "--backend", backend, "--index", index_file, photos])
        assert json.loads(out)["encoded"] == len(paths)
        index_times.append(t)
        print("round %d: embed %.2f s, index %.2f s" % (r + 1, embed_times[-1], index_times[-1]))
    e, i = statistics.median(embed_times), statistics.median(index_times)
    print("throughput over %d photos 1600x1200: embed %.2f images/s, index %.2f images/s, "
          "index/embed speed %.3f" % (len(paths), len(paths) / e, len(paths) / i, e / i))
    con = sqlite3.connect(index_file)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    n = con.execute("SELECT count(*) FROM images").fetchone()[0]
    con.close()
    size = os.path.getsize(index_file)
    print("index size: %d bytes for %d images = %.0f bytes per image" % (size, n, size / n))
    return index_file


def load_library(path):
    lib = ctypes.CDLL(path)
    lib.clipscope_model_load.restype = ctypes.c_void_p
    lib.clipscope_model_load.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p,
                                         ctypes.c_void_p]
    lib.clipscope_index_open.restype = ctypes.c_void_p
    lib.clipscope_index_open.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p,
                                         ctypes.c_void_p]
    lib.clipscope_index_search.restype = ctypes.c_void_p
    lib.clipscope_index_search.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float),
                                           ctypes.c_int, ctypes.c_char_p,
                                           ctypes.POINTER(ctypes.c_int), ctypes.c_void_p]
    lib.clipscope_index_hits_free.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.clipscope_index_free.argtypes = [ctypes.c_void_p]
    lib.clipscope_model_unref.argtypes = [ctypes.c_void_p]
    return lib


def bench_query(lib, model, template_file, work, rows, queries, dim):
    path = os.path.join(work, "big.sqlite")
    src = sqlite3.connect(template_file)
    meta = src.execute("SELECT key, value FROM meta").fetchall()
    src.close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("CREATE TABLE images (path TEXT PRIMARY KEY, size INTEGER NOT NULL,"
                " mtime INTEGER NOT NULL, hash BLOB NOT NULL, embedding BLOB NOT NULL)")
    con.execute("CREATE INDEX images_by_hash ON images (hash)")
    con.executemany("INSERT INTO meta VALUES (?, ?)", meta)
    rng = np.random.default_rng(1)
    for start in range(0, rows, 10000):
        m = rng.normal(size=(min(10000, rows - start), dim)).astype(np.float32)
        m /= np.linalg.norm(m, axis=1, keepdims=True)
        half = m.astype("<f2")
        con.executemany("INSERT INTO images VALUES (?, ?, ?, ?, ?)",
                        (("/photos/%02d/img%06d.jpg" % (i % 97, start + i), 3000000, 0,
                          rng.bytes(32), half[i].tobytes()) for i in range(len(m))))
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    print("index of %d random rows: %.0f bytes per row" % (rows, os.path.getsize(path) / rows))

    m = lib.clipscope_model_load(model.encode(), None, None, None)
    t0 = time.perf_counter()
    index = lib.clipscope_index_open(m, path.encode(), None, None)
    print("opening it (with SQLite's quick_check): %.0f ms" % ((time.perf_counter() - t0) * 1000))
    assert m and index
    n_hits = ctypes.c_int()
    times = []
    for q in range(queries + 1):
        v = rng.normal(size=dim).astype(np.float32)
        v /= np.linalg.norm(v)
        buf = (ctypes.c_float * dim)(*v)
        t0 = time.perf_counter()
        hits = lib.clipscope_index_search(index, buf, 20, None, ctypes.byref(n_hits), None)
        times.append(time.perf_counter() - t0)
        assert hits and n_hits.value == 20
        lib.clipscope_index_hits_free(hits, n_hits.value)
    print("query over %d embeddings (top 20): first (reads the rows) %.0f ms, then median %.1f ms, "
          "worst %.1f ms over %d queries" % (rows, times[0] * 1000, statistics.median(times[1:]) * 1000,
                                            max(times[1:]) * 1000, queries))
    lib.clipscope_index_free(index)
    lib.clipscope_model_unref(m)


def main():
    global args
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clipscope", default=os.path.join(HERE, "..", "_build", "app", "clipscope"))
    p.add_argument("--lib", default=os.path.join(HERE, "..", "_build", "engine", "libclipscope.so"))
    p.add_argument("--model")
    p.add_argument("--backend", default="cpu")
    p.add_argument("--images", type=int, default=48)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--rows", type=int, default=100000)
    p.add_argument("--queries", type=int, default=50)
    p.add_argument("--skip-throughput", action="store_true")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="clipscope-bench-index-") as work:
        model = args.model
        if model is None:
            model = os.path.join(work, "vit-b-32-random")
            tinyclip.make_model(model, fmt="hf", vision="vit", dtype="F32", seed=0, quick_gelu=True,
                                image_size=224, patch_size=32, vision_width=768, vision_layers=12,
                                vision_heads=12, vision_mlp=3072, text_width=512, text_heads=8,
                                text_layers=12, context_length=77, vocab_size=49408, embed_dim=512,
                                init_std=0.02)
        with open(os.path.join(model, "config.json")) as f:
            dim = json.load(f).get("projection_dim", 512)
        photos = os.path.join(work, "photos")
        if args.skip_throughput:
            write_photos(photos, 2)
            index_file = os.path.join(work, "small.sqlite")
            timed([args.clipscope, "index", "--model", model, "--backend", args.backend,
                   "--index", index_file, photos])
        else:
            index_file = bench_throughput(args.clipscope, model, photos, work, args.rounds, args.backend)
        bench_query(load_library(args.lib), model, index_file, work, args.rows, args.queries, dim)


if __name__ == "__main__":
    main()
