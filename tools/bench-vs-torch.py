#!/usr/bin/python3
"""Speed of `clipscope bench` next to PyTorch on the same model.

    OPENBLAS_NUM_THREADS=2 /usr/bin/python3 tools/bench-vs-torch.py \
        [--clipscope PATH] [--backend cpu] [--device cpu] [--batch 16]
        [--images 64] [--texts 64] [--model DIR]

Without --model a ViT-B/32-sized random model (Hugging Face layout, float32)
is written to a temporary folder. The PyTorch side is a plain nn.Module CLIP
in the shape of OpenAI's model.py (nn.Linear, nn.LayerNorm, nn.Conv2d,
nn.MultiheadAttention, QuickGELU), in float32 on --device (on the CPU with
--threads threads), under torch.no_grad(): one warm-up batch, then timed
batches of random preprocessed images and full-context texts, like
`clipscope bench`. The inputs are made and moved to the device before the
clock starts, so only the encoders and the normalisation are timed.

The two are run alternately --rounds times and the medians are reported.
Before timing, one image (a saved PNG) and a few texts are embedded by both
to show they compute the same thing.

    --backend NAME  clipscope's backend, auto, cpu or vulkan (default cpu),
                    for `clipscope bench` and the probe's `clipscope embed`
    --device NAME   the torch device of the model and its inputs: cpu
                    (default), cuda, cuda:1, ...; on CUDA TF32 is off, the
                    clock is read after torch.cuda.synchronize(), and the
                    probe's embeddings are compared on the CPU in float64

    --check   only compare the nn.Module model with tests/clip_reference.py
              on tiny models (ViT and ResNet, both activations) and exit
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(HERE, "..", "tests")
sys.path.insert(0, TESTS)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import clip_reference as ref  # noqa: E402
import tinyclip  # noqa: E402


# ------------------------------------------------------- the torch model

class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads, quick_gelu, mlp_width=None, attn_mask=None):
        super().__init__()
        mlp_width = mlp_width or 4 * width
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(width, mlp_width)),
            ("gelu", QuickGELU() if quick_gelu else nn.GELU()),
            ("c_proj", nn.Linear(mlp_width, width)),
        ]))
        # A buffer, not a weight: it follows the module to its device.
        self.register_buffer("attn_mask", attn_mask, persistent=False)

    def forward(self, x):                      # x: [L, N, W]
        mask = None if self.attn_mask is None else self.attn_mask.to(dtype=x.dtype)
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, quick_gelu, mlp_width=None, attn_mask=None):
        super().__init__()
        self.resblocks = nn.Sequential(*[
            ResidualAttentionBlock(width, heads, quick_gelu, mlp_width, attn_mask)
            for _ in range(layers)])

    def forward(self, x):
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    def __init__(self, image_size, patch_size, width, layers, heads, output_dim,
                 quick_gelu, mlp_width=None):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, patch_size, stride=patch_size, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(width))
        self.positional_embedding = nn.Parameter(
            torch.zeros((image_size // patch_size) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads, quick_gelu, mlp_width)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.zeros(width, output_dim))

    def forward(self, x):
        x = self.conv1(x)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        cls = self.class_embedding.to(x.dtype) + torch.zeros(
            x.shape[0], 1, x.shape[-1], dtype=x.dtype, device=x.device)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x)
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
        return self.ln_post(x[:, 0, :]) @ self.proj


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride > 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(OrderedDict([
                ("-1", nn.AvgPool2d(stride)),
                ("0", nn.Conv2d(inplanes, planes * 4, 1, stride=1, bias=False)),
                ("1", nn.BatchNorm2d(planes * 4)),
            ]))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(self.avgpool(out)))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class AttentionPool2d(nn.Module):
    def __init__(self, spacial_dim, embed_dim, num_heads, output_dim):
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.zeros(spacial_dim ** 2 + 1, embed_dim))
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim)
        self.num_heads = num_heads

    def forward(self, x):
        x = x.flatten(start_dim=2).permute(2, 0, 1)          # [HW, N, C]
        x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)
        x = x + self.positional_embedding[:, None, :].to(x.dtype)
        x, _ = F.multi_head_attention_forward(
            query=x[:1], key=x, value=x,
            embed_dim_to_check=x.shape[-1], num_heads=self.num_heads,
            q_proj_weight=self.q_proj.weight, k_proj_weight=self.k_proj.weight,
            v_proj_weight=self.v_proj.weight, in_proj_weight=None,
            in_proj_bias=torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]),
            bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0,
            out_proj_weight=self.c_proj.weight, out_proj_bias=self.c_proj.bias,
            use_separate_proj_weight=True, training=self.training, need_weights=False)
        return x.squeeze(0)


class ModifiedResNet(nn.Module):
    def __init__(self, layers, output_dim, heads, input_resolution, width):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width // 2, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.conv2 = nn.Conv2d(width // 2, width // 2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.conv3 = nn.Conv2d(width // 2, width, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.avgpool = nn.AvgPool2d(2)
        self.relu = nn.ReLU(inplace=True)
        self._inplanes = width
        self.layer1 = self._make_layer(width, layers[0])
        self.layer2 = self._make_layer(width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(width * 8, layers[3], stride=2)
        self.attnpool = AttentionPool2d(input_resolution // 32, width * 32, heads, output_dim)

    def _make_layer(self, planes, blocks, stride=1):
        layers = [Bottleneck(self._inplanes, planes, stride)]
        self._inplanes = planes * Bottleneck.expansion
        for _ in range(1, blocks):
            layers.append(Bottleneck(self._inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        x = self.relu(self.bn3(self.conv3(x)))
        x = self.avgpool(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.attnpool(x)


class CLIP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        v, t, E = cfg["vision"], cfg["text"], cfg["embed_dim"]
        if v["kind"] == "vit":
            self.visual = VisionTransformer(v["image_size"], v["patch_size"], v["width"],
                                            v["layers"], v["heads"], E, v["quick_gelu"],
                                            v.get("mlp"))
        else:
            self.visual = ModifiedResNet(v["layers"], E, v["heads"], v["image_size"], v["width"])
        ctx = t["context_length"]
        mask = torch.full((ctx, ctx), float("-inf")).triu_(1)
        self.context_length = ctx
        self.transformer = Transformer(t["width"], t["layers"], t["heads"], t["quick_gelu"],
                                       t.get("mlp"), attn_mask=mask)
        self.token_embedding = nn.Embedding(t["vocab_size"], t["width"])
        self.positional_embedding = nn.Parameter(torch.zeros(ctx, t["width"]))
        self.ln_final = nn.LayerNorm(t["width"])
        self.text_projection = nn.Parameter(torch.zeros(t["width"], E))
        self.logit_scale = nn.Parameter(torch.zeros([]))

    def encode_image(self, image):
        return self.visual(image)

    def encode_text(self, text):
        x = self.token_embedding(text) + self.positional_embedding
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0], device=x.device), text.argmax(dim=-1)] @ self.text_projection


def build_torch_model(state, cfg):
    """The nn.Module CLIP, float32, eval mode, holding @state's weights."""
    m = CLIP(cfg)
    sd = {k: v.float() for k, v in ref.canonical_state(state, torch.float32).items()}
    # BatchNorm's counters are not weights; keep the module's own.
    own = m.state_dict()
    for k in own:
        if k.endswith("num_batches_tracked"):
            sd[k] = own[k]
    missing, unexpected = m.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise RuntimeError("state mismatch: missing %s, unexpected %s" % (missing[:5], unexpected[:5]))
    return m.eval()


def unit(x):
    return x / x.norm(dim=-1, keepdim=True)


def torch_device(name):
    """torch.device(@name), once a tensor was made there; else exit saying why."""
    try:
        dev = torch.device(name)
        torch.zeros(1, device=dev) + 1
    except Exception as e:  # RuntimeError, or AssertionError from a torch without CUDA
        why = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise SystemExit("--device %s: not usable here (%s)" % (name, why))
    return dev


def describe_device(dev):
    if dev.type == "cuda":
        return "%s (%s)" % (dev, torch.cuda.get_device_name(dev))
    return str(dev)


def synchronizer(dev):
    """A function that waits for the work queued on @dev, for reading the clock."""
    if dev.type == "cuda":
        return lambda: torch.cuda.synchronize(dev)
    mod = getattr(torch, dev.type, None)
    if dev.type != "cpu" and hasattr(mod, "synchronize"):
        return mod.synchronize
    return lambda: None


# ---------------------------------------------------------------- checks

def self_check():
    """nn.Module model vs the explicit reference, on tiny models."""
    torch.manual_seed(0)
    worst = 0.0
    ok = True
    with tempfile.TemporaryDirectory(prefix="clipscope-bench-check-") as tmp:
        cases = [
            ("hf-vit-quickgelu", dict(fmt="hf", vision="vit", quick_gelu=True)),
            ("hf-vit-gelu", dict(fmt="hf", vision="vit", quick_gelu=False, vision_mlp=100, text_mlp=72)),
            ("openclip-vit", dict(fmt="open_clip", vision="vit", quick_gelu=True, image_size=48, patch_size=16)),
            ("openclip-rn-1111", dict(fmt="open_clip", vision="resnet", resnet_layers=[1, 1, 1, 1])),
            ("openclip-rn-2121-gelu", dict(fmt="open_clip", vision="resnet", quick_gelu=False,
                                           resnet_layers=[2, 1, 2, 1], image_size=96)),
        ]
        for i, (name, kw) in enumerate(cases):
            d = os.path.join(tmp, name)
            tinyclip.make_model(d, seed=i, **kw)
            state, cfg = ref.load_model(d)
            m = build_torch_model(state, cfg)
            S = cfg["vision"]["image_size"]
            px = torch.randn(3, 3, S, S)
            tok = ref.Tokenizer(d)
            toks = [tok.encode(t, cfg["text"]["context_length"]) for t in
                    ("a photo of a cat", "", "the dog is white and the bird is blue " * 4)]
            with torch.no_grad():
                mi = unit(m.encode_image(px)).double()
                mt = unit(m.encode_text(ref.pad_tokens(toks, m.context_length))).double()
            ri = ref.encode_image(state, cfg, px)
            rt = ref.encode_text(state, cfg, toks)
            ei = (mi - ri).abs().max().item()
            et = (mt - rt).abs().max().item()
            good = ei <= 1e-5 and et <= 1e-5
            ok &= good
            worst = max(worst, ei, et)
            print("%-24s image %.2e  text %.2e  %s" % (name, ei, et, "ok" if good else "FAIL"))
    print("nn.Module vs reference: worst %.2e (tolerance 1e-5) — %s" % (worst, "ok" if ok else "FAIL"))
    return ok


# ----------------------------------------------------------------- bench

def time_torch(model, cfg, batch, n_images, n_texts, threads, dev):
    torch.set_num_threads(threads)
    sync = synchronizer(dev)
    S = cfg["vision"]["image_size"]
    ctx = cfg["text"]["context_length"]
    V = cfg["text"]["vocab_size"]
    g = torch.Generator().manual_seed(0)

    def images(n):
        return torch.randn(n, 3, S, S, generator=g)

    def texts(n):
        t = torch.randint(1, V - 2, (n, ctx), generator=g)
        t[:, 0] = V - 2
        t[:, -1] = V - 1
        return t

    def batches(make, n):
        """@n inputs from @make in batches, already on the device."""
        out = []
        done = 0
        while done < n:
            b = min(batch, n - done)
            out.append(make(b).to(dev))
            done += b
        return out

    def timed(encode, make, n):
        """ms per input of @encode over @n inputs from @make, after a warm-up batch."""
        unit(encode(make(batch).to(dev)))
        xs = batches(make, n)
        sync()
        t0 = time.perf_counter()
        for x in xs:
            unit(encode(x))
        sync()
        return (time.perf_counter() - t0) * 1000 / n

    with torch.no_grad():
        img_ms = timed(model.encode_image, images, n_images)
        txt_ms = timed(model.encode_text, texts, n_texts)
    return img_ms, txt_ms


def time_clipscope(cli, model_dir, backend, batch, n_images, n_texts, env):
    cmd = [cli, "bench", "--model", model_dir, "--backend", backend, "--batch", str(batch),
           "--images", str(n_images), "--texts", str(n_texts)]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    if r.returncode != 0:
        raise SystemExit("clipscope bench failed (exit %d):\n%s" % (
            r.returncode, r.stderr.decode("utf-8", "replace")))
    out = json.loads(r.stdout)
    return out


def agreement(cli, model_dir, backend, model, dev, cfg, env):
    """One PNG and a few texts through both; the largest difference."""
    from PIL import Image

    S = cfg["vision"]["image_size"]
    with tempfile.TemporaryDirectory(prefix="clipscope-bench-img-") as tmp:
        rng = np.random.default_rng(7)
        h, w = S + 37, S + 11
        y, x = np.mgrid[0:h, 0:w]
        a = np.stack([x * 255.0 / w, y * 255.0 / h, 128 + 0 * x], -1) + rng.normal(0, 25, (h, w, 3))
        png = os.path.join(tmp, "probe.png")
        Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "RGB").save(png)
        texts = ["a photo of a cat", "a diagram", "the quick brown fox jumps over the lazy dog"]
        cmd = [cli, "embed", "--model", model_dir, "--backend", backend, "--image", png]
        for t in texts:
            cmd += ["--text", t]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        if r.returncode != 0:
            print("clipscope embed failed: %s" % r.stderr.decode("utf-8", "replace").strip())
            return None
        out = json.loads(r.stdout)
        cimg = torch.tensor([out["images"][0]["embedding"]], dtype=torch.float64)
        ctxt = torch.tensor([t["embedding"] for t in out["texts"]], dtype=torch.float64)
        r = subprocess.run([cli, "tokenize", "--model", model_dir, "--"] + texts,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        toks = json.loads(r.stdout)["tokens"] if r.returncode == 0 else \
            [ref.Tokenizer(model_dir).encode(t, cfg["text"]["context_length"]) for t in texts]
        px = torch.from_numpy(ref.preprocess_for(cfg, png)).float()[None].to(dev)
        tt = ref.pad_tokens(toks, cfg["text"]["context_length"]).to(dev)
        with torch.no_grad():
            timg = unit(model.encode_image(px)).double().cpu()
            ttxt = unit(model.encode_text(tt)).double().cpu()
        return (cimg - timg).abs().max().item(), (ctxt - ttxt).abs().max().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clipscope", default=os.environ.get("CLIPSCOPE_CLI") or
                    os.path.join(HERE, "..", "_build", "app", "clipscope"))
    ap.add_argument("--backend", default="cpu", help="clipscope's backend: auto, cpu or vulkan")
    ap.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:N, ...")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--texts", type=int, default=64)
    ap.add_argument("--model", help="model folder (default: a random ViT-B/32-sized one)")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OPENBLAS_NUM_THREADS", "2") or 2))
    ap.add_argument("--rounds", type=int, default=3, help="alternations of clipscope and torch")
    ap.add_argument("--check", action="store_true", help="only check the torch model against the reference")
    ap.add_argument("--no-verify", action="store_true", help="skip the agreement probe")
    args = ap.parse_args()

    if args.check:
        return 0 if self_check() else 1

    if not os.access(args.clipscope, os.X_OK):
        raise SystemExit("no clipscope binary at %s (use --clipscope)" % args.clipscope)
    dev = torch_device(args.device)
    if dev.type == "cuda":
        # Full float32, like the CPU side and clipscope: no TF32 shortcuts.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    env = dict(os.environ)
    env.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))

    tmp = None
    model_dir = args.model
    if model_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="clipscope-bench-")
        model_dir = os.path.join(tmp.name, "vit-b-32-random")
        t0 = time.perf_counter()
        tinyclip.make_model(model_dir, fmt="hf", vision="vit", dtype="F32", seed=0, quick_gelu=True,
                            image_size=224, patch_size=32, vision_width=768, vision_layers=12,
                            vision_heads=12, vision_mlp=3072, text_width=512, text_heads=8,
                            text_layers=12, context_length=77, vocab_size=49408, embed_dim=512,
                            init_std=0.02)
        print("wrote a random ViT-B/32-sized model to %s in %.1f s" % (model_dir, time.perf_counter() - t0))

    try:
        state, cfg = ref.load_model(model_dir)
        model = build_torch_model(state, cfg).to(dev)
        torch.set_num_threads(args.threads)

        if not args.no_verify:
            d = agreement(args.clipscope, model_dir, args.backend, model, dev, cfg, env)
            if d is not None:
                print("agreement, clipscope %s vs torch float32 on %s: image max |diff| %.2e, text max |diff| %.2e"
                      % ((args.backend, dev) + d))

        cs_img, cs_txt, th_img, th_txt = [], [], [], []
        last = None
        for r in range(args.rounds):
            out = time_clipscope(args.clipscope, model_dir, args.backend, args.batch, args.images,
                                 args.texts, env)
            last = out
            cs_img.append(float(out["images"]["ms_per_image"]))
            cs_txt.append(float(out["texts"]["ms_per_text"]))
            ti, tt = time_torch(model, cfg, args.batch, args.images, args.texts, args.threads, dev)
            th_img.append(ti)
            th_txt.append(tt)
            print("round %d: clipscope %.2f ms/image %.2f ms/text | torch %.2f ms/image %.2f ms/text"
                  % (r + 1, cs_img[-1], cs_txt[-1], ti, tt))
    finally:
        if tmp is not None:
            tmp.cleanup()

    mi, mt = statistics.median(cs_img), statistics.median(cs_txt)
    ti, tt = statistics.median(th_img), statistics.median(th_txt)
    print()
    print("model: %s, vision %s width %d × %d layers, text width %d × %d layers, ctx %d"
          % (cfg["format"], cfg["vision"]["kind"], cfg["vision"]["width"],
             sum(cfg["vision"]["layers"]) if isinstance(cfg["vision"]["layers"], list) else cfg["vision"]["layers"],
             cfg["text"]["width"], cfg["text"]["layers"], cfg["text"]["context_length"]))
    print("batch %d, %d images, %d texts, %d threads, torch %s on %s; clipscope backend %s on %s, load %.0f ms"
          % (args.batch, args.images, args.texts, args.threads, torch.__version__, describe_device(dev),
             last.get("backend"), last.get("device"), float(last.get("load_ms", float("nan")))))
    print()
    cs_name = "clipscope (%s)" % last.get("backend")
    th_name = "torch f32 (%s)" % dev
    w = max(12, len(cs_name), len(th_name)) + 2
    print("%-10s %*s %*s %18s" % ("", w, cs_name, w, th_name, "clipscope/torch"))
    print("%-10s %*.2f %*.2f %18.2f" % ("ms/image", w, mi, w, ti, mi / ti))
    print("%-10s %*.2f %*.2f %18.2f" % ("ms/text", w, mt, w, tt, mt / tt))
    print("(medians of %d alternating rounds)" % args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
