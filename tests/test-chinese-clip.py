#!/usr/bin/python3
"""Chinese-CLIP end to end: the clipscope CLI against a float64 PyTorch
reference (tests/chinese_clip_reference.py) on tiny random checkpoints in
the Hugging Face layout, float32 and float16.

For each case: `tokenize` must give the ids of BERT's rules (Chinese,
mixed, full-width, accented, over-long and empty texts); `embed` must give
the reference's text embeddings, computed at the full context of 52 with
the padding masked, and its image embeddings, from cn_clip's squash
resize, within 1e-4 (2e-3 for float16 weights); a text embeds the same
alone as next to a longer one, so the padding's length does not matter;
`classify` scores with a softmax over the labels. With Vulkan
(CLIPSCOPE_HAVE_VULKAN=1) the same embeddings on the Vulkan backend, with
float16 and float32 weight storage, must agree with the CPU's within 2e-3.
Broken folders (no vocab.txt, a vocab.txt of another size, an unknown
model_type, another pad id) must fail with an error naming the file.

Environment: CLIPSCOPE_CLI (the binary), CLIPSCOPE_HAVE_VULKAN.
Exit status 0 when every check passes.
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

import chinese_clip_reference as cn  # noqa: E402

torch.set_num_threads(2)

CLI = os.environ.get("CLIPSCOPE_CLI") or os.path.join(HERE, "..", "_build", "app", "clipscope")
VULKAN = os.environ.get("CLIPSCOPE_HAVE_VULKAN") == "1"
TOL_VULKAN = 2e-3

TEXTS = [
    "一张猫的照片。",
    "北京的红色车，上海的蓝天！",
    "a photo of a cat",
    "Hello, 世界! 我爱 photos of the dog",
    "Café CLIP unbelievable ＡＢＣ，。",
    "",
    "猫" * 80,                                   # over 52 tokens: cut, [SEP] kept
    "一张狗的图 " * 12 + "the end",             # mixed and over-long
    "鸟",                                        # shortest: mostly padding
    "𠀀 unknown ideograph and 🐱",
]

# name, make_model arguments, embedding tolerance against the reference
CASES = [
    ("f32", dict(dtype="F32", seed=1), 1e-4),
    ("f32-odd-widths", dict(dtype="F32", seed=2, text_width=36, text_heads=3, text_mlp=100,
                            text_layers=3, vision_width=32, vision_heads=2, image_size=48,
                            patch_size=16, embed_dim=17, max_positions=512), 1e-4),
    ("f16", dict(dtype="F16", seed=3), 2e-3),
]

LABELS = ["猫", "狗", "红色的车"]
TEMPLATE = "一张{}的照片。"

failures = []


def check(name, ok, detail=""):
    print(("ok     " if ok else "FAILED ") + name + ("" if ok else ": " + detail), flush=True)
    if not ok:
        failures.append(name)
    return ok


def run(args, env=None):
    p = subprocess.run([CLI] + [str(a) for a in args], capture_output=True, text=True,
                       env=env, timeout=300)
    return p.returncode, p.stdout, p.stderr


def cli_json(name, args, env=None):
    rc, out, err = run(args, env)
    if not check("%s: %s exits 0" % (name, args[0]), rc == 0, "exit %d: %s" % (rc, err.strip())):
        return None
    return json.loads(out)


def write_images(tmp):
    from PIL import Image

    paths = []
    for i, (w, h) in enumerate([(45, 30), (32, 32), (19, 61)]):
        y, x = np.mgrid[0:h, 0:w].astype(np.float64)
        rng = np.random.default_rng(40 + i)
        a = np.stack([255 * x / (w - 1), 128 + 90 * np.sin(y / 3.0 + i), 255 * (1 - y / (h - 1))], -1)
        a = np.clip(np.rint(a + rng.normal(0, 25, size=(h, w, 3))), 0, 255).astype(np.uint8)
        path = os.path.join(tmp, "image-%dx%d.png" % (w, h))
        Image.fromarray(a, "RGB").save(path)
        paths.append(path)
    return paths


def embed_args(model, images, texts):
    args = ["embed", "--model", model]
    for p in images:
        args += ["--image", p]
    for t in texts:
        args += ["--text", t]
    return args


def rows(out, kind):
    return np.array([r["embedding"] for r in out[kind]], dtype=np.float64)


def run_case(name, kw, tol, images, tmp):
    model = os.path.join(tmp, name)
    state, vocab = cn.make_model(model, **kw)
    config = json.load(open(os.path.join(model, "config.json")))
    text_heads = config["text_config"]["num_attention_heads"]
    vision_heads = config["vision_config"]["num_attention_heads"]
    size = config["vision_config"]["image_size"]

    want_ids = [cn.tokenize(t, vocab) for t in TEXTS]
    out = cli_json(name, ["tokenize", "--model", model, "--"] + TEXTS)
    if out is not None:
        bad = [t for t, got, want in zip(TEXTS, out["tokens"], want_ids) if got != want]
        check("%s: token ids are BERT's, framed to 52" % name, not bad, "differ for %r" % bad[:3])

    out = cli_json(name, embed_args(model, images, TEXTS))
    if out is None:
        return
    ref_txt = cn.encode_text(state, want_ids, text_heads).numpy()
    err = np.abs(rows(out, "texts") - ref_txt).max()
    check("%s: text embeddings, max |Δ| %.1e ≤ %.0e" % (name, err, tol), err <= tol)

    pixels = np.stack([cn.preprocess_image(p, size) for p in images])
    ref_img = cn.encode_image(state, pixels, vision_heads).numpy()
    err = np.abs(rows(out, "images") - ref_img).max()
    check("%s: image embeddings (squash resize), max |Δ| %.1e ≤ %.0e" % (name, err, tol), err <= tol)

    # The padding's length: "鸟" alone runs 3 positions, next to the
    # over-long text 52, and must come out the same.
    alone = cli_json(name, embed_args(model, [], ["鸟"]))
    if alone is not None:
        err = np.abs(rows(alone, "texts")[0] - rows(out, "texts")[TEXTS.index("鸟")]).max()
        check("%s: padding does not change an embedding, max |Δ| %.1e" % (name, err), err <= 1e-6)

    out_cls = cli_json(name, ["classify", "--model", model, "--template", TEMPLATE]
                       + sum([["--label", l] for l in LABELS], []) + ["--"] + images)
    if out_cls is not None:
        lab = cn.encode_text(state, [cn.tokenize(TEMPLATE.format(l), vocab) for l in LABELS],
                             text_heads)
        probs = torch.softmax(float(np.exp(state["logit_scale"].double())) * torch.as_tensor(ref_img) @ lab.t(), -1)
        got = np.array([r["probabilities"] for r in out_cls["images"]])
        err = np.abs(got - probs.numpy()).max()
        check("%s: classify gives a softmax over the labels, max |Δ| %.1e" % (name, err),
              err <= 10 * tol)

    if VULKAN:
        args = embed_args(model, images, TEXTS)
        for label, extra in (("f16 storage", {}), ("f32 storage", {"CLIPSCOPE_VULKAN_DISABLE_F16": "1"})):
            rc, vk_out, err = run(args + ["--backend", "vulkan"], dict(os.environ, **extra))
            if not check("%s: vulkan %s runs" % (name, label), rc == 0 and not err.strip(),
                         "exit %d, stderr %r" % (rc, err)):
                continue
            vk = json.loads(vk_out)
            diff = max(np.abs(rows(vk, k) - rows(out, k)).max() for k in ("images", "texts"))
            check("%s: vulkan %s against the CPU, max |Δ| %.1e ≤ %.0e" % (name, label, diff, TOL_VULKAN),
                  diff <= TOL_VULKAN)


def expect_error(label, model, must_mention):
    rc, out, err = run(["embed", "--model", model, "--text", "猫"])
    lines = [l for l in err.splitlines() if l.startswith("clipscope: error: ")]
    ok = rc == 1 and out == "" and len(lines) == 1 and all(m in lines[0] for m in must_mention)
    check("refused: " + label, ok, "exit %d, stderr %r" % (rc, err))


def broken_folders(tmp):
    good = os.path.join(tmp, "good")
    cn.make_model(good, seed=5)

    def variant(name, edit):
        path = os.path.join(tmp, name)
        shutil.copytree(good, path)
        edit(path)
        return path

    def edit_config(key_path, value):
        def edit(path):
            p = os.path.join(path, "config.json")
            c = json.load(open(p))
            obj = c
            for k in key_path[:-1]:
                obj = obj[k]
            obj[key_path[-1]] = value
            json.dump(c, open(p, "w"))
        return edit

    def extra_line(path):
        with open(os.path.join(path, "vocab.txt"), "a", encoding="utf-8") as f:
            f.write("[unused999]\n")

    expect_error("no vocab.txt", variant("no-vocab", lambda p: os.remove(os.path.join(p, "vocab.txt"))),
                 ["no-vocab", "vocab.txt"])
    expect_error("vocab.txt of another size", variant("long-vocab", extra_line),
                 [os.path.join("long-vocab", "vocab.txt"), "vocab_size"])
    expect_error("unknown model_type", variant("bad-type", edit_config(["model_type"], "chinese_clip_v9")),
                 [os.path.join("bad-type", "config.json"), "model_type", "chinese_clip_v9"])
    expect_error("another pad id", variant("bad-pad", edit_config(["text_config", "pad_token_id"], 3)),
                 ["bad-pad", "pad_token_id"])


def main():
    with tempfile.TemporaryDirectory(prefix="clipscope-cn-") as tmp:
        images = write_images(tmp)
        for name, kw, tol in CASES:
            run_case(name, kw, tol, images, tmp)
        broken_folders(tmp)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
