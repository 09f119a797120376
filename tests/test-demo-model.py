#!/usr/bin/python3
"""The bundled emoji demo model: intact, loadable, and right on the demo.

The folder's files must match its SHA256SUMS manifest (and nothing else may
be in it), it must fit the 8 MB budget, load through the engine as the
default model when --model is omitted, and classify the bundled sample
images at least as well as when it was released, on the CPU and, when the
build has Vulkan, on the Vulkan backend, with both backends agreeing.  Its
preprocessing composites transparent pixels onto white, so a sample whose
white background is made transparent (black beneath, as renderers leave
it) must look to it exactly like the opaque sample.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

CLI = os.environ.get("CLIPSCOPE_CLI", "_build/app/clipscope")
DATA = os.environ.get("CLIPSCOPE_DATA_DIR",
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data"))
MODEL = os.path.join(DATA, "models", "emoji-demo")
SAMPLES = os.path.join(DATA, "samples")
HAVE_VULKAN = os.environ.get("CLIPSCOPE_HAVE_VULKAN") == "1"

# Sample file → the label it shows.  The four classic cases come first.
DEMO = [("dog.png", "dog"), ("cat.png", "cat"), ("car.png", "car"), ("pizza.png", "pizza"),
        ("apple.png", "apple"), ("bicycle.png", "bicycle"), ("guitar.png", "guitar"),
        ("house.png", "house")]

failures = []


def check(name, cond, detail=""):
    print(("ok     " if cond else "FAILED ") + name + ("" if cond else ": " + detail))
    if not cond:
        failures.append(name)


def cli_json(*args):
    p = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError("clipscope %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr))
    return json.loads(p.stdout)


def test_manifest():
    listed = {}
    with open(os.path.join(MODEL, "SHA256SUMS"), encoding="utf-8") as f:
        for line in f:
            digest, name = line.rstrip("\n").split("  ", 1)
            listed[name] = digest
    present = sorted(n for n in os.listdir(MODEL) if n != "SHA256SUMS")
    check("manifest lists exactly the folder's files", sorted(listed) == present,
          "listed %s, present %s" % (sorted(listed), present))
    for name, digest in sorted(listed.items()):
        path = os.path.join(MODEL, name)
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            actual = hashlib.sha256(f.read()).hexdigest()
        check("checksum of %s" % name, actual == digest, "%s, manifest says %s" % (actual, digest))
    for needed in ("config.json", "model.safetensors", "vocab.json", "merges.txt",
                   "preprocessor_config.json", "NOTICE", "README.md"):
        check("folder holds %s" % needed, needed in present)
    total = sum(os.path.getsize(os.path.join(MODEL, n)) for n in os.listdir(MODEL))
    check("folder fits in 8 MB", total <= 8 * 1000 * 1000, "%d bytes" % total)


def test_loads_as_default():
    info = cli_json("info", "--backend", "cpu")
    check("info without --model loads the demo model",
          info.get("format") == "hf" and info.get("vision", {}).get("kind") == "vit",
          json.dumps(info))
    check("demo model is stored in f16", info.get("dtype") == "float16", json.dumps(info))
    explicit = cli_json("info", "--backend", "cpu", "--model", MODEL)
    check("the default is the bundled folder",
          explicit.get("parameters") == info.get("parameters"), json.dumps(explicit))


def test_transparent(directory):
    from PIL import Image
    import numpy as np

    info = cli_json("info", "--backend", "cpu", "--model", MODEL)
    check("info shows the white alpha background",
          info.get("vision", {}).get("alpha_background") == [255, 255, 255], json.dumps(info))
    files, labels = [], [l for _, l in DEMO]
    for name, _ in DEMO[:2]:
        rgb = np.asarray(Image.open(os.path.join(SAMPLES, name)).convert("RGB"))
        white = (rgb == 255).all(-1, keepdims=True)
        rgba = np.concatenate([np.where(white, 0, rgb), np.where(white, 0, 255)], -1)
        path = os.path.join(directory, "transparent-" + name)
        Image.fromarray(rgba.astype(np.uint8), "RGBA").save(path)
        files += [os.path.join(SAMPLES, name), path]
    args = ["classify", "--backend", "cpu", "--model", MODEL]
    for label in labels:
        args += ["--label", label]
    out = cli_json(*args, "--", *files)["images"]
    for i in range(0, len(files), 2):
        worst = max(abs(a - b) for a, b in zip(out[i]["similarity"], out[i + 1]["similarity"]))
        check("%s with a transparent background is seen as on white" % DEMO[i // 2][0],
              worst <= 1e-6 and out[i + 1]["top"] == DEMO[i // 2][1],
              "max |Δ| %.2e, top %s" % (worst, out[i + 1]["top"]))


def classify(backend, labels, files):
    args = ["classify", "--backend", backend]
    for label in labels:
        args += ["--label", label]
    return cli_json(*args, "--", *[os.path.join(SAMPLES, f) for f in files])


def test_demo(backend):
    """The shipped model must keep the accuracy it was released with (its
    README records the evaluation): every classic case and every sample
    right, on each backend, and both backends giving the same answers."""
    classic = DEMO[:4]
    out = classify(backend, [l for _, l in classic], [f for f, _ in classic])
    right = 0
    for (f, truth), img in zip(classic, out["images"]):
        print("       %s: %s → %s %s" % (backend, f, img["top"],
                                        ["%.3f" % p for p in img["probabilities"]]))
        right += img["top"] == truth
    check("%s: the 4 classic cases right (dog/cat/car/pizza)" % backend, right == 4,
          "%d right" % right)
    out = classify(backend, [l for _, l in DEMO], [f for f, _ in DEMO])
    right = 0
    for (f, truth), img in zip(DEMO, out["images"]):
        print("       %s: %s → %s" % (backend, f, img["top"]))
        right += img["top"] == truth
    check("%s: the 8 samples right among their 8 labels" % backend, right == 8,
          "%d right" % right)
    return out


def main():
    # Mesa's shader cache and the pipeline cache go to a throw-away folder.
    cache = tempfile.mkdtemp(prefix="clipscope-demo-")
    os.environ["MESA_SHADER_CACHE_DIR"] = os.path.join(cache, "mesa")
    os.environ["XDG_CACHE_HOME"] = cache
    try:
        return run_tests(cache)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def run_tests(scratch):
    if not os.path.isdir(MODEL):
        print("FAILED the demo model folder %s is missing" % MODEL)
        return 1
    test_manifest()
    test_loads_as_default()
    test_transparent(scratch)
    cpu = test_demo("cpu")
    if HAVE_VULKAN:
        vk = test_demo("vulkan")
        check("Vulkan and CPU pick the same labels",
              [i["top"] for i in cpu["images"]] == [i["top"] for i in vk["images"]])
        worst = max(abs(a - b) for ic, iv in zip(cpu["images"], vk["images"])
                    for a, b in zip(ic["similarity"], iv["similarity"]))
        check("Vulkan and CPU similarities agree within 2e-3", worst <= 2e-3, "max |Δ| %.2e" % worst)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
