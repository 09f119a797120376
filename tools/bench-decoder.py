#!/usr/bin/python3
"""What decoding images in the helper processes costs, next to decoding
them in the calling process.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/bench-decoder.py \
        [--clipscope PATH] [--decoder PATH] [--images 300] [--rounds 6]

Writes --images 640 × 480 JPEG photos and a tiny model (tests/tinyclip.py)
to a temporary folder, then runs `clipscope classify` on the folder with
CLIPSCOPE_DECODER=in-process, with one helper and with two, in turn
(the order alternating from round to round), and reports for each the
median and least wall time and CPU time (the command and its helpers)
per image. The tiny model keeps the encoder's share small, so the
difference is the decoding's.
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import tinyclip  # noqa: E402


def photos(folder, n):
    rng = np.random.default_rng(0)
    base = Image.fromarray(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)).resize((640, 480), Image.BICUBIC)
    for i in range(n):
        noise = rng.integers(-20, 20, (480, 640, 3))
        pixels = np.clip(np.asarray(base).astype(int) + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(os.path.join(folder, "%04d.jpg" % i), quality=85)


def run_once(cli, model, folder, env):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    p = subprocess.run([cli, "classify", "--model", model, "--backend", "cpu", "--label", "a", folder],
                       env=dict(os.environ, **env), capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit("clipscope failed: %s" % p.stderr.decode(errors="replace"))
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clipscope", default="_build/app/clipscope")
    ap.add_argument("--decoder", default="_build/engine/clipscope-decoder")
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=6)
    args = ap.parse_args()
    decoder = os.path.abspath(args.decoder)
    modes = {
        "in-process": {"CLIPSCOPE_DECODER": "in-process"},
        "1 helper": {"CLIPSCOPE_DECODER": decoder, "CLIPSCOPE_DECODE_WORKERS": "1"},
        "2 helpers": {"CLIPSCOPE_DECODER": decoder, "CLIPSCOPE_DECODE_WORKERS": "2"},
    }
    with tempfile.TemporaryDirectory(prefix="clipscope-bench-decoder-") as tmp:
        model = os.path.join(tmp, "model")
        folder = os.path.join(tmp, "photos")
        os.mkdir(folder)
        tinyclip.make_model(model, fmt="hf", vision="vit")
        photos(folder, args.images)
        times = {m: [] for m in modes}
        names = list(modes)
        for r in range(args.rounds):
            for m in names if r % 2 == 0 else names[::-1]:
                times[m].append(run_once(args.clipscope, model, folder, modes[m]))
    for m, runs in times.items():
        walls = sorted(w for w, _ in runs)
        cpus = sorted(c for _, c in runs)
        n = args.images
        print("%-10s  wall ms/image: median %.2f, least %.2f   CPU ms/image: median %.2f, least %.2f"
              % (m, 1000 * walls[len(walls) // 2] / n, 1000 * walls[0] / n,
                 1000 * cpus[len(cpus) // 2] / n, 1000 * cpus[0] / n))


if __name__ == "__main__":
    main()
