#!/usr/bin/python3
"""--precision int8 against float32 on model folders, as a user sees it.

    /usr/bin/python3 tools/int8-accuracy.py [--clipscope PATH] [--images DIR]
        [MODEL_DIR]…

For each model (the bundled emoji-demo when none is given), the PNGs of
--images (default data/samples) are classified zero-shot against their file
names ("cat.png" → "cat") and embedded with a prompt per name, once in
float32 and once in int8, both on the CPU backend. Prints how many top-1
labels changed, the largest difference of a probability, and the smallest
and mean cosine between the int8 and float32 embeddings of the images and
the texts.
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def clipscope(cli, *args):
    r = subprocess.run([cli] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise SystemExit(r.stderr.decode(errors="replace").strip())
    return json.loads(r.stdout)


def cosines(a, b):
    out = []
    for x, y in zip(a, b):
        dot = sum(p * q for p, q in zip(x, y))
        nx = sum(p * p for p in x) ** 0.5
        ny = sum(q * q for q in y) ** 0.5
        out.append(dot / (nx * ny))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clipscope", default=os.path.join(HERE, "..", "_build", "app", "clipscope"))
    ap.add_argument("--images", default=os.path.join(HERE, "..", "data", "samples"))
    ap.add_argument("models", nargs="*")
    args = ap.parse_args()
    images = sorted(os.path.join(args.images, f) for f in os.listdir(args.images)
                    if f.endswith(".png"))
    labels = [os.path.splitext(os.path.basename(p))[0] for p in images]
    print("| model | top-1 changed | max prob diff | image cos min / mean | text cos min / mean |")
    print("| --- | --- | --- | --- | --- |")
    for model in args.models or [os.path.join(HERE, "..", "data", "models", "emoji-demo")]:
        res = {}
        for precision in ("f32", "int8"):
            common = ["--model", model, "--backend", "cpu", "--precision", precision]
            cls = clipscope(args.clipscope, "classify", *common,
                            *[a for lab in labels for a in ("--label", lab)], *images)
            emb = clipscope(args.clipscope, "embed", *common,
                            *[a for p in images for a in ("--image", p)],
                            *[a for lab in labels for a in ("--text", "a photo of a %s." % lab)])
            res[precision] = (cls["images"], emb)
        (c32, e32), (c8, e8) = res["f32"], res["int8"]
        changed = sum(a["top"] != b["top"] for a, b in zip(c32, c8))
        dp = max(abs(p - q) for a, b in zip(c32, c8)
                 for p, q in zip(a["probabilities"], b["probabilities"]))
        row = []
        for kind in ("images", "texts"):
            c = cosines([e["embedding"] for e in e32[kind]], [e["embedding"] for e in e8[kind]])
            row.append("%.6f / %.6f" % (min(c), sum(c) / len(c)))
        print("| %s | %d of %d | %.2e | %s | %s |" % (os.path.basename(os.path.normpath(model)),
                                                   changed, len(images), dp, row[0], row[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
