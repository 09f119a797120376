#!/usr/bin/python3
"""End-to-end numerical test: the clipscope CLI against an explicit PyTorch
implementation of CLIP, on tiny random checkpoints in every supported
layout (Hugging Face / open_clip, ViT / ModifiedResNet, f32 / f16 / bf16).

For each case a model folder and a few PNG images are written to a
temporary folder; the CLI's `info`, `tokenize`, `preprocess`, `embed` and
`classify` outputs are compared with the reference. Embeddings must agree to
1e-4 (max abs), classification similarities to 1e-4 and probabilities to
1e-3. The reference computes with the very weights stored in the file (after
rounding to f16 / bf16), in float64.

When an image embedding disagrees, the image is also encoded from the CLI's
own preprocessed tensor, to tell the preprocessing from the encoder.

Environment:
  CLIPSCOPE_CLI            the clipscope binary (default: _build/app/clipscope)
  CLIPSCOPE_NUMERICS_KEEP  if set, keep the temporary folder and print it
  CLIPSCOPE_NUMERICS_CASES comma-separated case names to run (default: all)

Exit status 0 when everything agrees, 1 otherwise.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

import clip_reference as ref  # noqa: E402
import tinyclip  # noqa: E402

torch.set_num_threads(2)

CLI = os.environ.get("CLIPSCOPE_CLI") or os.path.join(HERE, "..", "_build", "app", "clipscope")

TOL_EMBED = 1e-4
TOL_SIM = 1e-4
TOL_PROB = 1e-3

TEXTS = [
    "a photo of a cat",
    "The quick brown fox jumps over the lazy dog.",
    "",
    "Hello,   World!  it's 2024 -- isn't it?",
    "café naïve résumé",
    "red green blue white bird picture",
]

LONG_TEXT = " ".join(
    ["this is a photo of the red car and the blue bird on a green picture"] * 8)

# name, make_model arguments, long text used
CASES = [
    ("hf-vit-f32-quickgelu",
     dict(fmt="hf", vision="vit", dtype="F32", quick_gelu=True, seed=1)),
    ("hf-vit-f32-gelu",
     dict(fmt="hf", vision="vit", dtype="F32", quick_gelu=False, seed=2,
          vision_width=36, vision_heads=3, vision_mlp=100,
          text_width=20, text_heads=5, text_mlp=72, embed_dim=17)),
    ("openclip-vit-f32",
     dict(fmt="open_clip", vision="vit", dtype="F32", quick_gelu=True, seed=3,
          image_size=48, patch_size=16, vision_width=64, vision_heads=2,
          vision_layers=3)),
    ("openclip-vit-f32-toplevel-quickgelu",
     dict(fmt="open_clip", vision="vit", dtype="F32", quick_gelu=True, seed=13,
          _quick_gelu_top_level=True)),
    ("openclip-rn-1111-f32",
     dict(fmt="open_clip", vision="resnet", dtype="F32", quick_gelu=True, seed=4,
          resnet_layers=[1, 1, 1, 1], image_size=64)),
    ("openclip-rn-2111-f32-gelu",
     dict(fmt="open_clip", vision="resnet", dtype="F32", quick_gelu=False, seed=5,
          resnet_layers=[2, 1, 1, 1], image_size=96)),
    # head_width 32: 8 × 32 // 32 = 8 attention-pool heads, not the default 4
    ("openclip-rn-f32-head-width-32",
     dict(fmt="open_clip", vision="resnet", dtype="F32", quick_gelu=True, seed=15,
          resnet_head_width=32)),
    ("hf-vit-f16",
     dict(fmt="hf", vision="vit", dtype="F16", quick_gelu=True, seed=6)),
    ("hf-vit-bf16",
     dict(fmt="hf", vision="vit", dtype="BF16", quick_gelu=True, seed=7)),
    ("openclip-vit-bf16",
     dict(fmt="open_clip", vision="vit", dtype="BF16", quick_gelu=True, seed=8)),
    ("openclip-rn-f16-mixed",
     dict(fmt="open_clip", vision="resnet", dtype="F16", quick_gelu=True, seed=9,
          resnet_layers=[1, 2, 1, 1], norms_f32=True, embed_dim=17)),
    ("openclip-rn-bf16",
     dict(fmt="open_clip", vision="resnet", dtype="BF16", quick_gelu=True, seed=10)),
    ("hf-vit-f32-alpha-background",
     dict(fmt="hf", vision="vit", dtype="F32", quick_gelu=True, seed=14,
          _alpha_background=[37, 140, 250])),
    ("hf-vit-f32-ctx77",
     dict(fmt="hf", vision="vit", dtype="F32", quick_gelu=True, seed=11,
          context_length=77, image_size=32, patch_size=4)),
    ("openclip-vit-f16-ctx77",
     dict(fmt="open_clip", vision="vit", dtype="F16", quick_gelu=False, seed=12,
          context_length=77)),
]

LABELS = ["cat", "dog", "red car", "bird"]
TEMPLATES = ["a photo of a {}.", "{}"]


class Failure(Exception):
    pass


CLI_SECONDS = [0.0, 0]   # time spent in the CLI, number of calls


def write_images(dirpath):
    """A few deterministic PNGs of odd sizes and modes."""
    rng = np.random.default_rng(1234)
    paths = []

    def rgb(w, h, kind):
        y, x = np.mgrid[0:h, 0:w].astype(np.float64)
        if kind == 0:
            base = np.stack([255 * x / max(w - 1, 1), 255 * y / max(h - 1, 1),
                             128 + 60 * np.sin(x / 3.0 + y / 5.0)], -1)
        elif kind == 1:
            base = np.stack([128 + 100 * np.sin(x / 4.0), 128 + 100 * np.cos(y / 6.0),
                             255 * ((x + y) % 16 < 8)], -1)
        else:
            base = np.stack([255 * (x / max(w - 1, 1)) ** 2, 90 + 0 * x,
                             255 * (1 - y / max(h - 1, 1))], -1)
        noise = rng.normal(0, 30, size=(h, w, 3))
        return np.clip(np.rint(base + noise), 0, 255).astype(np.uint8)

    specs = [("noise-37x53.png", 37, 53, "RGB", 0),
             ("square-64x64.png", 64, 64, "RGB", 1),
             ("wide-90x40.png", 90, 40, "RGB", 2),
             ("alpha-50x45.png", 50, 45, "RGBA", 0),
             ("grey-41x29.png", 41, 29, "L", 1)]
    for name, w, h, mode, kind in specs:
        a = rgb(w, h, kind)
        if mode == "RGBA":
            alpha = rng.integers(0, 256, size=(h, w, 1), dtype=np.uint8)
            im = Image.fromarray(np.concatenate([a, alpha], -1), "RGBA")
        elif mode == "L":
            im = Image.fromarray(a[..., 0], "L")
        else:
            im = Image.fromarray(a, "RGB")
        p = os.path.join(dirpath, name)
        im.save(p)
        paths.append(p)
    return paths


def cli(*args, timeout=120):
    cmd = [CLI] + [str(a) for a in args]
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure("timed out after %ds: %s" % (timeout, " ".join(cmd)))
    dt = time.monotonic() - t0
    CLI_SECONDS[0] += dt
    CLI_SECONDS[1] += 1
    if r.returncode != 0:
        raise Failure("exit %d from %s\n%s" % (r.returncode, " ".join(cmd[:4]) + " …",
                                               r.stderr.decode("utf-8", "replace").strip()))
    try:
        return json.loads(r.stdout.decode("utf-8")), dt
    except ValueError as e:
        raise Failure("output of %s is not JSON (%s): %r" % (args[0], e, r.stdout[:200]))


def read_npy(path):
    return np.load(path, allow_pickle=False)


class Report:
    def __init__(self):
        self.rows = []
        self.failures = []

    def add(self, case, what, err, tol, note=""):
        ok = err is not None and err <= tol
        self.rows.append((case, what, err, tol, ok, note))
        if not ok:
            self.failures.append("%s: %s: error %s > %g %s" % (
                case, what, "n/a" if err is None else "%.3g" % err, tol, note))
        return ok

    def check(self, case, what, cond, note=""):
        self.rows.append((case, what, None, None, bool(cond), note))
        if not cond:
            self.failures.append("%s: %s: %s" % (case, what, note))
        return cond

    def fail(self, case, what, msg):
        self.rows.append((case, what, None, None, False, msg.splitlines()[0][:60]))
        self.failures.append("%s: %s: %s" % (case, what, msg))

    def print(self):
        w = max(len(r[0]) for r in self.rows) if self.rows else 10
        print("%-*s  %-22s  %10s  %8s  %s" % (w, "case", "check", "max |err|", "tol", "result"))
        print("-" * (w + 60))
        for case, what, err, tol, ok, note in self.rows:
            print("%-*s  %-22s  %10s  %8s  %s%s" % (
                w, case, what,
                "" if err is None else "%.2e" % err,
                "" if tol is None else "%.0e" % tol,
                "ok" if ok else "FAIL",
                ("  " + note) if note else ""))


def maxabs(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise Failure("shape %s != reference %s" % (a.shape, b.shape))
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def run_case(name, kw, images, tmp, rep):
    mdir = os.path.join(tmp, name)
    kw = dict(kw)
    top_level = kw.pop("_quick_gelu_top_level", False)
    alpha_background = kw.pop("_alpha_background", None)
    state = tinyclip.make_model(mdir, **kw)
    if alpha_background:
        # Clipscope's own key: transparent pixels composited onto a colour.
        p = os.path.join(mdir, "preprocessor_config.json")
        with open(p) as f:
            c = json.load(f)
        c["alpha_background"] = alpha_background
        with open(p, "w") as f:
            json.dump(c, f, indent=2)
    if top_level:
        # Some open_clip folders keep quick_gelu beside model_cfg, not in it.
        p = os.path.join(mdir, "open_clip_config.json")
        with open(p) as f:
            c = json.load(f)
        c["quick_gelu"] = c["model_cfg"].pop("quick_gelu")
        with open(p, "w") as f:
            json.dump(c, f, indent=2)
    st2, cfg = ref.load_model(mdir)
    # The file must read back as the values make_model says it stored.
    same = set(state) == set(st2) and all(torch.equal(state[k], st2[k]) for k in state)
    rep.check(name, "fixture round trip", same, "" if same else "stored weights differ")
    S = cfg["vision"]["image_size"]
    ctx = cfg["text"]["context_length"]
    dtype_name = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[kw["dtype"]]
    common = ["--model", mdir, "--backend", "cpu"]

    # info
    try:
        info, _ = cli("info", *common)
        bad = []
        want = {"format": "hf" if kw["fmt"] == "hf" else "open_clip",
                "embed_dim": cfg["embed_dim"], "context_length": ctx}
        for k, v in want.items():
            if info.get(k) != v:
                bad.append("%s=%r (want %r)" % (k, info.get(k), v))
        vk = (info.get("vision") or {}).get("kind")
        if vk != kw["vision"]:
            bad.append("vision.kind=%r (want %r)" % (vk, kw["vision"]))
        vh = (info.get("vision") or {}).get("heads")
        if vh != cfg["vision"]["heads"]:
            bad.append("vision.heads=%r (want %r)" % (vh, cfg["vision"]["heads"]))
        if not kw.get("norms_f32") and info.get("dtype") != dtype_name:
            bad.append("dtype=%r (want %r)" % (info.get("dtype"), dtype_name))
        got = (info.get("vision") or {}).get("alpha_background")
        if got != alpha_background:
            bad.append("vision.alpha_background=%r (want %r)" % (got, alpha_background))
        if info.get("backend") != "cpu":
            bad.append("backend=%r (want 'cpu')" % (info.get("backend"),))
        rep.check(name, "info", not bad, "; ".join(bad))
    except Failure as e:
        rep.fail(name, "info", str(e))

    # tokenize: every text the case needs, in one call
    texts = TEXTS + [LONG_TEXT]
    label_texts = [t.replace("{}", l, 1) for l in LABELS for t in TEMPLATES]
    all_texts = texts + label_texts
    tok = ref.Tokenizer(mdir)
    try:
        out, _ = cli("tokenize", *common, "--", *all_texts)
        ids = out["tokens"]
        if len(ids) != len(all_texts):
            raise Failure("%d token lists for %d texts" % (len(ids), len(all_texts)))
        mism = [(t, i, tok.encode(t, ctx)) for t, i in zip(all_texts, ids)
                if list(i) != tok.encode(t, ctx)]
        note = ""
        if mism:
            t, got, want = mism[0]
            note = "%d texts differ, e.g. %r: got %s want %s" % (len(mism), t, got, want)
        rep.check(name, "tokenize", not mism, note)
        long_ids = ids[len(TEXTS)]
        rep.check(name, "tokenize truncation",
                  len(long_ids) == ctx and long_ids[-1] == tok.eot and long_ids[0] == tok.sot,
                  "long text gave %d ids, last %d" % (len(long_ids), long_ids[-1]))
    except Failure as e:
        rep.fail(name, "tokenize", str(e))
        ids = [tok.encode(t, ctx) for t in all_texts]
    tokens = dict(zip(all_texts, ids))

    # reference embeddings
    ref_pix = np.stack([ref.preprocess_for(cfg, p) for p in images])
    ref_img = ref.encode_image(state, cfg, ref_pix)
    ref_txt = ref.encode_text(state, cfg, [tokens[t] for t in texts])

    # preprocess (to tell preprocessing errors from encoder errors)
    cli_pix = {}
    pre_err = 0.0
    try:
        for p in images:
            npy = os.path.join(tmp, name + "-" + os.path.basename(p) + ".npy")
            out, _ = cli("preprocess", *common, p, "--npy", npy)
            if list(out.get("shape", [])) != [3, S, S]:
                raise Failure("shape %r, want [3, %d, %d]" % (out.get("shape"), S, S))
            cli_pix[p] = read_npy(npy)
            pre_err = max(pre_err, maxabs(cli_pix[p], ref_pix[images.index(p)]))
        rep.add(name, "preprocess", pre_err, 1e-5)
    except Failure as e:
        rep.fail(name, "preprocess", str(e))

    # embed
    try:
        args = ["embed", *common]
        for p in images:
            args += ["--image", p]
        for t in texts:
            args += ["--text", t]
        out, dt = cli(*args)
        got_img = out["images"]
        got_txt = out["texts"]
        if [g["path"] for g in got_img] != images:
            raise Failure("image paths out of order: %r" % [g["path"] for g in got_img])
        if [g["text"] for g in got_txt] != texts:
            raise Failure("texts out of order: %r" % [g["text"] for g in got_txt])
        E = cfg["embed_dim"]
        gi = np.array([g["embedding"] for g in got_img], dtype=np.float64).reshape(len(images), E)
        gt = np.array([g["embedding"] for g in got_txt], dtype=np.float64).reshape(len(texts), E)
        ierr = np.abs(gi - ref_img.numpy()).max(1)
        note = ""
        if ierr.max() > TOL_EMBED and cli_pix:
            # Same encoder on the CLI's own pixels: what is left is the encoder.
            own = ref.encode_image(state, cfg, np.stack([cli_pix[p] for p in images])).numpy()
            enc = np.abs(gi - own).max(1)
            worst = int(np.argmax(ierr))
            note = ("worst %s; on the CLI's pixels the encoder error is %.2e"
                    % (os.path.basename(images[worst]), enc.max()))
        rep.add(name, "embed images", float(ierr.max()), TOL_EMBED, note)
        terr = np.abs(gt - ref_txt.numpy()).max(1)
        note = ""
        if terr.max() > TOL_EMBED:
            note = "worst text %r" % texts[int(np.argmax(terr))]
        rep.add(name, "embed texts", float(terr.max()), TOL_EMBED, note)
        norms = np.abs(np.linalg.norm(np.concatenate([gi, gt]), axis=1) - 1).max()
        rep.add(name, "unit norm", float(norms), 1e-5)
    except Failure as e:
        rep.fail(name, "embed", str(e))
    except (KeyError, TypeError, ValueError) as e:
        rep.fail(name, "embed", "bad output: %r" % (e,))

    # classify
    try:
        args = ["classify", *common]
        for l in LABELS:
            args += ["--label", l]
        for t in TEMPLATES:
            args += ["--template", t]
        args += ["--"] + images
        out, _ = cli(*args)
        lab = ref.encode_labels(state, cfg, lambda t: tokens[t], LABELS, TEMPLATES)
        sim, prob = ref.score(ref_img, lab, ref.logit_scale(state))
        if out.get("labels") != LABELS or out.get("templates") != TEMPLATES:
            raise Failure("labels/templates echoed as %r / %r" % (out.get("labels"), out.get("templates")))
        rows = out["images"]
        if [r["path"] for r in rows] != images:
            raise Failure("image paths out of order")
        gs = np.array([r["similarity"] for r in rows], dtype=np.float64)
        gp = np.array([r["probabilities"] for r in rows], dtype=np.float64)
        rep.add(name, "classify similarity", maxabs(gs, sim.numpy()), TOL_SIM)
        rep.add(name, "classify probabilities", maxabs(gp, prob.numpy()), TOL_PROB)
        bad_top = []
        for i, r in enumerate(rows):
            pr = prob[i].numpy()
            order = np.argsort(-pr)
            if pr[order[0]] - pr[order[1]] < 1e-3:
                continue  # a near tie: either answer is right
            if r.get("top") != LABELS[order[0]]:
                bad_top.append("%s: %r (want %r)" % (os.path.basename(r["path"]), r.get("top"),
                                                     LABELS[order[0]]))
        rep.check(name, "classify top", not bad_top, "; ".join(bad_top))
    except Failure as e:
        rep.fail(name, "classify", str(e))
    except (KeyError, TypeError, ValueError) as e:
        rep.fail(name, "classify", "bad output: %r" % (e,))


# 16-bit files against their float32 twins: the same values widened into a
# float32 file. Their matrices stay 16-bit in memory and are widened
# exactly where they are used, so the embeddings must be the same.
TWINS = [
    ("twin-hf-vit-f16", dict(fmt="hf", vision="vit", dtype="F16", quick_gelu=True, seed=21,
                             vision_width=96, vision_heads=4, text_width=64, text_heads=4)),
    ("twin-hf-vit-bf16", dict(fmt="hf", vision="vit", dtype="BF16", quick_gelu=False, seed=22)),
    ("twin-openclip-vit-f16", dict(fmt="open_clip", vision="vit", dtype="F16", quick_gelu=True,
                                   seed=23)),
    ("twin-openclip-rn-bf16", dict(fmt="open_clip", vision="resnet", dtype="BF16",
                                   quick_gelu=True, seed=24)),
]
TOL_TWIN = 1e-6


def run_twin(name, kw, images, tmp, rep):
    half = os.path.join(tmp, name)
    twin = half + "-f32"
    state = tinyclip.make_model(half, **kw)
    shutil.copytree(half, twin)
    weights = "model.safetensors" if kw["fmt"] == "hf" else "open_clip_model.safetensors"
    tinyclip.write_safetensors(os.path.join(twin, weights),
                               {k: v.numpy() for k, v in state.items()})

    def converted(k, v):
        """May be converted to float32: vectors, positions, the convolutions
        (folded with their batch norms) and OpenAI's projections (transposed)."""
        return (v.dim() < 2 or v.dim() == 4 or "positional" in k or "position_embedding" in k
                or k in ("text_projection", "visual.proj"))

    floats = {k: v for k, v in state.items() if v.is_floating_point()}
    # A folded convolution gains a bias.
    allowed = sum(v.numel() + (v.shape[0] if v.dim() == 4 else 0)
                  for k, v in floats.items() if converted(k, v))
    n_matrix = sum(v.numel() for k, v in floats.items() if not converted(k, v))
    info, _ = cli("info", "--model", half, "--backend", "cpu")
    rep.add(name, "no float32 matrices", info["weight_bytes"] / 4.0 - allowed, 0,
            "%d converted floats; %d more would be converted with the matrices"
            % (info["weight_bytes"] // 4, n_matrix))
    for precision in ("f32", "bf16", "int8"):
        outs = []
        for m in (half, twin):
            args = ["embed", "--model", m, "--backend", "cpu", "--precision", precision]
            for p in images[:2]:
                args += ["--image", p]
            for t in TEXTS[:3]:
                args += ["--text", t]
            try:
                out, _ = cli(*args)
            except Failure as e:
                # int8 needs oneDNN and AVX512-VNNI or AMX.
                if precision == "int8" and "int8 precision is not available" in str(e):
                    break
                raise
            outs.append([e["embedding"] for e in out["images"] + out["texts"]])
        if len(outs) == 2:
            rep.add(name, "%s = f32 twin" % precision, maxabs(outs[0], outs[1]), TOL_TWIN)


def main():
    if not (os.path.isfile(CLI) and os.access(CLI, os.X_OK)):
        print("test-numerics: no clipscope binary at %s (set CLIPSCOPE_CLI)" % CLI, file=sys.stderr)
        return 1
    wanted = os.environ.get("CLIPSCOPE_NUMERICS_CASES")
    cases = CASES
    if wanted:
        names = set(wanted.split(","))
        cases = [c for c in CASES if c[0] in names]
        if not cases:
            print("test-numerics: no case matches %r" % wanted, file=sys.stderr)
            return 1
    keep = bool(os.environ.get("CLIPSCOPE_NUMERICS_KEEP"))
    tmp = tempfile.mkdtemp(prefix="clipscope-numerics-")
    t0 = time.monotonic()
    rep = Report()
    try:
        images = write_images(tmp)
        for name, kw in cases:
            try:
                run_case(name, kw, images, tmp, rep)
            except Failure as e:
                rep.fail(name, "case", str(e))
        for name, kw in TWINS if not wanted else []:
            try:
                run_twin(name, kw, images, tmp, rep)
            except Failure as e:
                rep.fail(name, "case", str(e))
    finally:
        if keep:
            print("test-numerics: files kept in %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    rep.print()
    print("\n%d checks, %d failed, %.1f s (%.1f s in %d clipscope runs)" % (
        len(rep.rows), len(rep.failures), time.monotonic() - t0, CLI_SECONDS[0], CLI_SECONDS[1]))
    if rep.failures:
        print("\nFAILURES:", file=sys.stderr)
        for f in rep.failures:
            print("  " + f, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
