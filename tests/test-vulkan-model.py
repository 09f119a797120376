#!/usr/bin/env python3
"""Whole-model test of the Vulkan backend against the CPU backend.

Writes tiny random models with tinyclip.py (a ViT in both formats, with
QuickGELU and exact GELU, and a ModifiedResNet), embeds the same images
and texts with `--backend cpu` and `--backend vulkan`, and requires the
normalised embeddings to agree within 2e-3 (DESIGN.md), with weights
stored as float16 and as float32, and with the kernels a GPU would take
(the shared-memory product, sums across subgroups). The Khronos validation layer is on
throughout (CLIPSCOPE_VULKAN_VALIDATE=1): any message it prints makes the
Vulkan run fail. Also checks the fallback: a device that cannot be found
gives the CPU's results and one notice under --backend auto, and exit
status 1 under --backend vulkan; so does a machine without a Vulkan
driver, whose error says so; and a corrupt pipeline cache is only a miss.

Environment: CLIPSCOPE_CLI (the binary), CLIPSCOPE_TESTS_DIR.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tinyclip  # noqa: E402

CLI = os.environ.get("CLIPSCOPE_CLI") or os.path.join(HERE, "..", "_build", "app", "clipscope")
TOLERANCE = 2e-3
failures = []


def check(name, cond, detail=""):
    print(("ok     " if cond else "FAILED ") + name + ("" if cond else ": " + detail), flush=True)
    if not cond:
        failures.append(name)


def run(args, env):
    p = subprocess.run([CLI] + args, capture_output=True, text=True, env=env, timeout=300)
    return p.returncode, p.stdout, p.stderr


def write_images(tmp):
    import numpy as np
    from PIL import Image

    paths = []
    for i, (w, h) in enumerate([(40, 31), (64, 64), (23, 57)]):
        rng = np.random.RandomState(100 + i)
        path = os.path.join(tmp, "img%d.png" % i)
        Image.fromarray((rng.rand(h, w, 3) * 255).astype("uint8")).save(path)
        paths.append(path)
    return paths


def embed_args(model, images):
    args = ["embed", "--model", model]
    for p in images:
        args += ["--image", p]
    # A long text reaches the full context; a short one pools early.
    for t in ["a photo of a cat", "x", "the quick brown fox " * 20]:
        args += ["--text", t]
    return args


def max_diff(a, b):
    worst = 0.0
    for kind in ("images", "texts"):
        for x, y in zip(a[kind], b[kind]):
            worst = max(worst, max(abs(u - v) for u, v in zip(x["embedding"], y["embedding"])))
    return worst


def compare(name, model, images, env):
    args = embed_args(model, images)
    rc, out, err = run(args + ["--backend", "cpu"], env)
    if rc != 0:
        check(name + " cpu", False, err)
        return None
    cpu = json.loads(out)
    configs = (("f16 storage", {}),
               ("f32 storage", {"CLIPSCOPE_VULKAN_DISABLE_F16": "1"}),
               ("f16 storage, no texel buffers", {"CLIPSCOPE_VULKAN_DISABLE_TEXEL": "1"}),
               # What a GPU takes, which a CPU device would not pick.
               ("GPU kernels", {"CLIPSCOPE_VULKAN_GEMM": "tiled", "CLIPSCOPE_VULKAN_REDUCE": "subgroups",
                                "CLIPSCOPE_VULKAN_ATTENTION_QUERIES": "1"}))
    for label, extra in configs:
        rc, out, err = run(args + ["--backend", "vulkan"], dict(env, **extra))
        if rc != 0 or err.strip():
            check("%s vulkan %s" % (name, label), False, "exit %d, stderr %r" % (rc, err))
            continue
        diff = max_diff(cpu, json.loads(out))
        check("%s vulkan %s: max |Δ| %.2e ≤ %.0e" % (name, label, diff, TOLERANCE), diff <= TOLERANCE,
              "max abs diff %.3e" % diff)
    return cpu


def test_fallback(model, images, cpu, env):
    bad = dict(env, CLIPSCOPE_VULKAN_DEVICE="no-such-device")
    rc, out, err = run(embed_args(model, images) + ["--backend", "auto"], bad)
    lines = [l for l in err.splitlines() if l.strip()]
    ok = rc == 0 and len(lines) == 1 and "CPU" in lines[0]
    check("fallback under auto: CPU results and one notice", ok, "exit %d, stderr %r" % (rc, err))
    if ok:
        check("fallback results equal the CPU's", max_diff(cpu, json.loads(out)) == 0.0)
    rc, out, err = run(["info", "--model", model], bad)
    check("info under auto reports the CPU", rc == 0 and json.loads(out)["backend"] == "cpu", err)
    rc, out, err = run(embed_args(model, images) + ["--backend", "vulkan"], bad)
    lines = [l for l in err.splitlines() if l.startswith("clipscope: error: ")]
    check("explicit vulkan without a device fails", rc == 1 and out == "" and len(lines) == 1
          and "CLIPSCOPE_VULKAN_DEVICE" in lines[0], "exit %d, stderr %r" % (rc, err))


def test_no_driver(model, images, cpu, env):
    # The loader, pointed at a driver list that does not exist, finds none.
    # (Without the validation layer, which would pass on the loader's own
    # complaints about that.)
    missing = "/nonexistent/clipscope-no-such-driver.json"
    none = dict(env, VK_DRIVER_FILES=missing, VK_ICD_FILENAMES=missing,
                CLIPSCOPE_VULKAN_VALIDATE="0")
    said = "no installed driver could be used"
    rc, out, err = run(embed_args(model, images) + ["--backend", "auto"], none)
    lines = [l for l in err.splitlines() if l.strip()]
    ok = rc == 0 and len(lines) == 1 and "CPU" in lines[0] and said in lines[0]
    check("no driver under auto: CPU results and one notice saying so", ok,
          "exit %d, stderr %r" % (rc, err))
    if ok:
        check("no-driver results equal the CPU's", max_diff(cpu, json.loads(out)) == 0.0)
    rc, out, err = run(embed_args(model, images) + ["--backend", "vulkan"], none)
    lines = [l for l in err.splitlines() if l.startswith("clipscope: error: ")]
    check("explicit vulkan without a driver fails, saying so",
          rc == 1 and out == "" and len(lines) == 1 and said in lines[0],
          "exit %d, stderr %r" % (rc, err))


def test_info(model, env):
    rc, out, err = run(["info", "--model", model, "--backend", "vulkan"], env)
    if rc != 0:
        check("info --backend vulkan", False, err)
        return
    info = json.loads(out)
    devices = info.get("devices", [])
    check("info names the Vulkan backend and device", info["backend"] == "vulkan"
          and any(d["selected"] and d["name"] == info["device"] for d in devices), out)
    # Under auto a CPU implementation (lavapipe) is passed over, quietly,
    # unless CLIPSCOPE_VULKAN_DEVICE names it.
    chosen = [d for d in devices if d["selected"]][0]
    rc, out, err = run(["info", "--model", model], env)
    want = "cpu" if chosen["type"] == "cpu" else "vulkan"
    check("auto picks %s for a %s device, silently" % (want, chosen["type"]),
          rc == 0 and json.loads(out)["backend"] == want and not err.strip(), err)
    rc, out, err = run(["info", "--model", model], dict(env, CLIPSCOPE_VULKAN_DEVICE=str(chosen["index"])))
    check("auto uses a device CLIPSCOPE_VULKAN_DEVICE names",
          rc == 0 and json.loads(out)["backend"] == "vulkan", err)


def test_corrupt_cache(model, images, env):
    folder = os.path.join(env["XDG_CACHE_HOME"], "clipscope")
    files = [f for f in os.listdir(folder)] if os.path.isdir(folder) else []
    check("a pipeline cache file was written", len(files) == 1, repr(files))
    for f in files:
        with open(os.path.join(folder, f), "wb") as fp:
            fp.write(b"\x20\x00\x00\x00garbage" * 7)
    rc, out, err = run(["info", "--model", model, "--backend", "vulkan"], env)
    check("a corrupt pipeline cache is only a miss", rc == 0 and not err.strip(), err)


def test_device_lost(model, images, cpu, env):
    """The device is lost in the middle of the work: the batch is redone on
    the CPU, with the CPU's results exactly, and the user is told once."""
    lost = dict(env, CLIPSCOPE_VULKAN_DEVICE="llvmpipe", CLIPSCOPE_VULKAN_LOSE_DEVICE="2")
    rc, out, err = run(embed_args(model, images) + ["--backend", "auto"], lost)
    lines = [l for l in err.splitlines() if l.strip()]
    ok = rc == 0 and len(lines) == 1 and "VK_ERROR_DEVICE_LOST" in lines[0]
    check("device lost under auto: one notice", ok, "exit %d, stderr %r" % (rc, err))
    if ok:
        res = json.loads(out)
        # Images went first, on the device; the texts' batch was lost and
        # redone on the CPU.
        check("images before the loss came from the device",
              max_diff(dict(cpu, texts=[]), dict(res, texts=[])) <= TOLERANCE)
        check("the lost batch equals the CPU's exactly",
              max_diff(dict(cpu, images=[]), dict(res, images=[])) == 0.0)
    rc, out, err = run(embed_args(model, images) + ["--backend", "vulkan"], lost)
    lines = [l for l in err.splitlines() if l.startswith("clipscope: error: ")]
    check("device lost under explicit vulkan is an error", rc == 1 and out == "" and len(lines) == 1
          and "VK_ERROR_DEVICE_LOST" in lines[0], "exit %d, stderr %r" % (rc, err))


def main():
    tmp = tempfile.mkdtemp(prefix="clipscope-vulkan-")
    env = dict(os.environ)
    env["CLIPSCOPE_VULKAN_VALIDATE"] = env.get("CLIPSCOPE_VULKAN_VALIDATE", "1")
    env["XDG_CACHE_HOME"] = os.path.join(tmp, "cache")
    env["MESA_SHADER_CACHE_DIR"] = os.path.join(tmp, "mesa")
    env.pop("CLIPSCOPE_VULKAN_DEVICE", None)
    images = write_images(tmp)
    models = [
        ("hf-vit", dict(fmt="hf", vision="vit")),
        ("open_clip-vit-gelu", dict(fmt="open_clip", vision="vit", quick_gelu=False, seed=3)),
        ("open_clip-resnet", dict(fmt="open_clip", vision="resnet", seed=1)),
    ]
    cpu = None
    for name, kw in models:
        path = os.path.join(tmp, name)
        tinyclip.make_model(path, **kw)
        result = compare(name, path, images, env)
        if name == "hf-vit":
            cpu = result
            test_info(path, env)
    if cpu is not None:
        test_fallback(os.path.join(tmp, "hf-vit"), images, cpu, env)
        test_no_driver(os.path.join(tmp, "hf-vit"), images, cpu, env)
        test_corrupt_cache(os.path.join(tmp, "hf-vit"), images, env)
        test_device_lost(os.path.join(tmp, "hf-vit"), images, cpu, env)
    subprocess.run(["rm", "-rf", tmp])
    if failures:
        print("%d failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
