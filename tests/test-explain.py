#!/usr/bin/python3
"""`clipscope explain` against the float64 reference's spatial map.

For tiny random models (Hugging Face and open_clip, ViT and ModifiedResNet)
and a few images of different shapes, the grid × grid map the CLI writes
must agree with clip_reference.explain_map() on the CLI's own preprocessed
input within 1e-4 (max abs); its JSON must give the grid, the map's minimum
and maximum, and the image's ordinary cosine with the label. A map that is
the reference transposed or flipped would fail: each case also checks that
the reference itself tells those apart by several times the tolerance.
Then the usage and input errors: exit 2 and 1, one "clipscope: error:" line.

    test-explain.py [--backend cpu|vulkan]

With --backend vulkan (the vulkan suite, validation layer on) the labels
and the spatial pass run on the device, so the tolerance is the backends'
2e-3; each map must then also agree with the CPU backend's within 2e-3,
and the device's kernel profile must show the spatial pass (the final
projection over all 1 + grid² rows), so that a silent CPU fallback fails.

Environment: CLIPSCOPE_CLI (the binary).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

import clip_reference as ref  # noqa: E402
import tinyclip  # noqa: E402

torch.set_num_threads(2)

CLI = os.environ.get("CLIPSCOPE_CLI") or os.path.join(HERE, "..", "_build", "app", "clipscope")

# name, make_model arguments, grid side
CASES = [
    ("hf-vit", dict(fmt="hf", vision="vit", seed=21), 4),
    ("hf-vit-patch4-gelu", dict(fmt="hf", vision="vit", seed=22, quick_gelu=False,
                                image_size=32, patch_size=4, vision_layers=3), 8),
    ("openclip-vit-f16", dict(fmt="open_clip", vision="vit", dtype="F16", seed=23,
                              image_size=48, patch_size=16, vision_width=64,
                              vision_heads=2), 3),
    ("openclip-rn-64", dict(fmt="open_clip", vision="resnet", seed=24, image_size=64,
                            init_std=0.2), 2),
    ("openclip-rn-96", dict(fmt="open_clip", vision="resnet", seed=25, image_size=96,
                            resnet_layers=[2, 1, 1, 1], init_std=0.2), 3),
]

LABEL = "red car"
TEMPLATES = ["a photo of a {}.", "a {} on the road"]

failures = []


def check(name, cond, detail=""):
    print(("ok     " if cond else "FAILED ") + name + ("" if cond else ": " + detail), flush=True)
    if not cond:
        failures.append(name)


def run(*args, env=None):
    p = subprocess.run([CLI] + [str(a) for a in args], capture_output=True, text=True,
                       env=env, timeout=300)
    return p.returncode, p.stdout, p.stderr


def write_images(tmp):
    """A wide, a tall and a square image with structure in both axes."""
    paths = []
    for i, (w, h) in enumerate([(90, 50), (41, 77), (64, 64)]):
        y, x = np.mgrid[0:h, 0:w].astype(np.float64)
        rng = np.random.default_rng(300 + i)
        a = np.stack([255 * x / (w - 1), 128 + 120 * np.sin(y / (3.0 + i)),
                      255 * ((x // 9 + y // 13) % 2)], -1) + rng.normal(0, 20, (h, w, 3))
        path = os.path.join(tmp, "img%d-%dx%d.png" % (i, w, h))
        Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def explain(model, image, npy, backend, env=None):
    args = ["explain", "--model", model, "--backend", backend, "--label", LABEL]
    for t in TEMPLATES:
        args += ["--template", t]
    return run(*args, image, "--npy", npy, env=env)


def device_checks(tag, mdir, image, npy, got, grid, dim, tol):
    """The device's map against the CPU backend's, and proof it ran there."""
    cpu_npy = npy + ".cpu.npy"
    rc, _, err = explain(mdir, image, cpu_npy, "cpu")
    check(tag + ": CPU backend runs", rc == 0, err.strip())
    if rc == 0:
        diff = float(np.abs(got - np.load(cpu_npy)).max())
        check(tag + ": Vulkan map within %g of the CPU's (max abs %.2e)" % (tol, diff),
              diff <= tol)
    env = dict(os.environ, CLIPSCOPE_VULKAN_PROFILE="1")
    rc, _, err = explain(mdir, image, npy, "vulkan", env=env)
    # Profile lines end "linear ROWSxOUTxIN".
    want = "linear %dx%dx" % (1 + grid * grid, dim)
    check(tag + ": the spatial projection ran on the device (%s…)" % want,
          rc == 0 and any(line.split("x  ")[-1].startswith(want) for line in err.splitlines()),
          err.strip())


def run_case(name, kw, grid, images, tmp, backend, tol):
    mdir = os.path.join(tmp, name)
    state = tinyclip.make_model(mdir, **kw)
    cfg = ref.load_config(mdir)
    tok = ref.Tokenizer(mdir)
    ctx = cfg["text"]["context_length"]
    label = ref.encode_labels(state, cfg, lambda t: tok.encode(t, ctx), [LABEL], TEMPLATES)[0]
    worst = spread = 0.0
    for image in images:
        npy = os.path.join(tmp, name + "-" + os.path.basename(image) + ".npy")
        pix_npy = npy + ".pixels.npy"
        rc, out, err = explain(mdir, image, npy, backend)
        if rc != 0:
            check("%s %s: explain runs" % (name, os.path.basename(image)), False, err.strip())
            continue
        rc, _, err = run("preprocess", "--model", mdir, image, "--npy", pix_npy)
        check("%s: preprocess runs" % name, rc == 0, err.strip())
        pixels = np.load(pix_npy)[None]
        got = np.load(npy, allow_pickle=False)
        want = ref.explain_map(state, cfg, pixels, label)[0].numpy()
        sim = float(ref.encode_image(state, cfg, pixels)[0] @ label)
        j = json.loads(out)
        tag = "%s %s" % (name, os.path.basename(image))
        check(tag + ": map shape and dtype", got.shape == (grid, grid) and got.dtype == np.float32,
              "%s %s" % (got.shape, got.dtype))
        if got.shape != want.shape:
            continue
        err = float(np.abs(got - want).max())
        worst = max(worst, err)
        spread = max(spread, float(min(np.abs(want - want.T).max(), np.abs(want - want[::-1]).max(),
                                       np.abs(want - want[:, ::-1]).max())))
        check(tag + ": map within %g (max abs %.2e)" % (tol, err), err <= tol)
        check(tag + ": JSON", j.get("path") == image and j.get("label") == LABEL
              and j.get("grid") == [grid, grid], out.strip())
        check(tag + ": min and max of the map",
              abs(j["min"] - float(got.min())) < 1e-6 and abs(j["max"] - float(got.max())) < 1e-6,
              "%s vs %g, %g" % (out.strip(), got.min(), got.max()))
        check(tag + ": image cosine (%.2e off)" % abs(j["similarity"] - sim),
              abs(j["similarity"] - sim) <= tol)
        if backend == "vulkan" and image == images[0]:
            device_checks(tag, mdir, image, npy, got, grid, label.shape[0], tol)
    print("# %s: worst map error %.2e; a transposed or flipped map would be %.2e off"
          % (name, worst, spread))
    check(name + ": the reference tells orientations apart", spread > 5 * tol,
          "transposed/flipped maps differ by only %.2e" % spread)


def error_cases(tmp, images, backend):
    mdir = os.path.join(tmp, "hf-vit")
    npy = os.path.join(tmp, "err.npy")
    notes = os.path.join(tmp, "notes.txt")
    with open(notes, "w") as f:
        f.write("not an image\n")
    base = ["explain", "--model", mdir, "--backend", backend]
    cases = [
        ("no --label", base + [images[0], "--npy", npy], 2, "--label"),
        ("two labels", base + ["--label", "cat", "--label", "dog", images[0], "--npy", npy],
         2, "--label"),
        ("template without {}", base + ["--label", "cat", "--template", "a photo", images[0],
                                        "--npy", npy], 2, "{}"),
        ("no --npy", base + ["--label", "cat", images[0]], 2, "--npy"),
        ("no image", base + ["--label", "cat", "--npy", npy], 2, "IMAGE"),
        ("two images", base + ["--label", "cat", images[0], images[1], "--npy", npy], 2, "IMAGE"),
        ("unknown option", base + ["--label", "cat", "--grid", "7", images[0], "--npy", npy],
         2, "--grid"),
        ("missing image", base + ["--label", "cat", os.path.join(tmp, "gone.png"), "--npy", npy],
         1, "gone.png"),
        ("not an image", base + ["--label", "cat", notes, "--npy", npy], 1, "notes.txt"),
        ("unwritable --npy", base + ["--label", "cat", images[0], "--npy",
                                     os.path.join(tmp, "no-such-dir", "m.npy")], 1, "m.npy"),
        ("missing model", ["explain", "--model", os.path.join(tmp, "no-model"), "--label", "cat",
                           images[0], "--npy", npy], 1, "no-model"),
    ]
    for what, args, want_rc, word in cases:
        rc, out, err = run(*args)
        lines = err.strip().splitlines()
        check("error: %s (exit %d)" % (what, want_rc),
              rc == want_rc and out == "" and lines and lines[0].startswith("clipscope: error: ")
              and word in lines[0], "exit %d, stderr %r" % (rc, err))
    check("error: no file left behind", not os.path.exists(npy))


def default_model(tmp, images, backend):
    """Without --model, the bundled model is used."""
    data = os.path.join(tmp, "share")
    shutil.copytree(os.path.join(tmp, "hf-vit"), os.path.join(data, "models", "emoji-demo"))
    env = dict(os.environ, CLIPSCOPE_DATA_DIR=data)
    npy = os.path.join(tmp, "default.npy")
    rc, out, err = run("explain", "--backend", backend, "--label", "cat", images[0], "--npy", npy,
                       env=env)
    check("the bundled model without --model", rc == 0 and json.loads(out)["grid"] == [4, 4],
          err.strip())


def main():
    backend = "cpu"
    if len(sys.argv) == 3 and sys.argv[1] == "--backend":
        backend = sys.argv[2]
    tol = 1e-4 if backend == "cpu" else 2e-3
    tmp = tempfile.mkdtemp(prefix="clipscope-explain-")
    try:
        images = write_images(tmp)
        for name, kw, grid in CASES:
            run_case(name, kw, grid, images, tmp, backend, tol)
        error_cases(tmp, images, backend)
        default_model(tmp, images, backend)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
