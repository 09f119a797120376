#!/usr/bin/python3
"""Load time, time to the first embedding and peak memory of ViT-B/32,
B/16 and L/14 checkpoints, float32 against float16.

    /usr/bin/python3 tools/bench-load.py [--clipscope [NAME=]PATH]… [--models DIR]
        [--shapes b32,b16,l14] [--dtypes F32,F16] [--rounds 3] [--precision f32|bf16|int8]

(--rounds 0 only writes the models.)

Writes random-weight models of the real shapes (Hugging Face layout) into
--models (kept there and reused when it is given; a temporary folder
otherwise), then, for every model, runs in turn (the order rotating from
round to round, every clipscope given side by side):

  load   `clipscope bench --model DIR --images 0 --texts 0`: the model
         loaded and a CPU context made, nothing run; bench's load_ms;
  first  `clipscope embed --model DIR --image IMG`: a whole process that
         loads the model, packs the weights at their first use and
         embeds one image; its wall time.

It prints, per model and binary, the medians of load_ms and of the
first embedding's wall time, the peak resident memory of each (ru_maxrss
of the child, which counts the file's mapped pages it touched) and the
file's size.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

import tinyclip  # noqa: E402
from PIL import Image  # noqa: E402

TEXT_B = dict(text_width=512, text_heads=8, text_layers=12, context_length=77,
              vocab_size=49408, embed_dim=512)
SHAPES = {
    "b32": dict(image_size=224, patch_size=32, vision_width=768, vision_layers=12,
                vision_heads=12, vision_mlp=3072, **TEXT_B),
    "b16": dict(image_size=224, patch_size=16, vision_width=768, vision_layers=12,
                vision_heads=12, vision_mlp=3072, **TEXT_B),
    "l14": dict(image_size=224, patch_size=14, vision_width=1024, vision_layers=24,
                vision_heads=16, vision_mlp=4096, text_width=768, text_heads=12,
                text_layers=12, context_length=77, vocab_size=49408, embed_dim=768),
}


def run_rss(argv, env):
    """Wall seconds, peak RSS in MiB (of this child alone) and stdout."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit("%s failed: %s" % (" ".join(argv), err.decode(errors="replace")))
    return wall, ru.ru_maxrss / 1024.0, out.decode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clipscope", action="append", default=[],
                    help="[NAME=]PATH of a clipscope binary (default: _build/app/clipscope)")
    ap.add_argument("--models", help="folder for the models (kept and reused)")
    ap.add_argument("--shapes", default="b32,b16,l14")
    ap.add_argument("--dtypes", default="F32,F16")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--precision", default="f32", choices=("f32", "bf16", "int8"))
    args = ap.parse_args()

    binaries = []
    for spec in args.clipscope or [os.path.join(HERE, "..", "_build", "app", "clipscope")]:
        name, _, path = spec.rpartition("=")
        binaries.append((name or os.path.basename(os.path.dirname(os.path.abspath(path))) or path,
                         path))
    folder = args.models or tempfile.mkdtemp(prefix="clipscope-bench-load-")
    models = []
    for shape in args.shapes.split(","):
        for dtype in args.dtypes.split(","):
            d = os.path.join(folder, "%s-%s" % (shape, dtype.lower()))
            if not os.path.exists(os.path.join(d, "model.safetensors")):
                t0 = time.perf_counter()
                tinyclip.make_model(d, fmt="hf", vision="vit", dtype=dtype, seed=0,
                                    quick_gelu=True, init_std=0.02, **SHAPES[shape])
                print("wrote %s in %.0f s" % (d, time.perf_counter() - t0), file=sys.stderr)
            models.append(("%s %s" % (shape, dtype.lower()), d))

    if args.rounds < 1:
        return
    image = os.path.join(folder, "photo.png")
    if not os.path.exists(image):
        Image.new("RGB", (320, 240), (40, 90, 160)).save(image)
    env = dict(os.environ)
    env.setdefault("CLIPSCOPE_BACKEND", "cpu")
    results = {}
    jobs = [(m, b, kind) for m in models for b in binaries for kind in ("load", "first")]
    for r in range(args.rounds):
        k = r % len(jobs)
        for (mname, mdir), (bname, bpath), kind in jobs[k:] + jobs[:k]:
            common = ["--model", mdir, "--backend", "cpu", "--precision", args.precision]
            if kind == "load":
                argv = [bpath, "bench", *common, "--images", "0", "--texts", "0"]
            else:
                argv = [bpath, "embed", *common, "--image", image]
            # Drop nothing from the page cache: every run after the first
            # reads the file from memory, as a user's second start does.
            wall, rss, out = run_rss(argv, env)
            rec = results.setdefault((mname, bname, kind), {"ms": [], "rss": []})
            rec["ms"].append(json.loads(out)["load_ms"] if kind == "load" else wall * 1000)
            rec["rss"].append(rss)

    med = statistics.median
    print("medians of %d rounds; precision %s" % (args.rounds, args.precision))
    print("%-9s %-8s %8s | %8s %8s | %9s %8s" % (
        "model", "binary", "file MiB", "load ms", "RSS MiB", "1st emb ms", "RSS MiB"))
    for mname, mdir in models:
        size = os.path.getsize(os.path.join(mdir, "model.safetensors")) / 2**20
        for bname, _ in binaries:
            lo = results[(mname, bname, "load")]
            f = results[(mname, bname, "first")]
            print("%-9s %-8s %8.0f | %8.0f %8.0f | %9.0f %8.0f" % (
                mname, bname[:8], size, med(lo["ms"]), med(lo["rss"]), med(f["ms"]), med(f["rss"])))


if __name__ == "__main__":
    main()
