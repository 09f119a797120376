#!/usr/bin/python3
"""A small, explicit PyTorch implementation of CLIP used as a numerical oracle.

Everything is written out by hand — layer norm, attention, batch norm — and
computed in float64 by default, so that the result depends only on the
stored weights and CLIP's definition, not on a library's kernels.

Weights may be keyed by OpenAI / open_clip state-dict names or by Hugging
Face CLIPModel names; canonical_state() turns either into the OpenAI form.

    state, cfg = load_model(DIR)
    img = encode_image(state, cfg, pixels)          # [N, E], unit rows
    txt = encode_text(state, cfg, [[sot, …, eot]])  # [N, E], unit rows
"""

import json
import math
import os
import re
import struct

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "read_safetensors", "load_config", "load_model", "canonical_state",
    "encode_image", "encode_text", "encode_labels", "score", "logit_scale",
    "spatial_embeddings", "explain_map",
    "preprocess_image", "Tokenizer",
]

# ------------------------------------------------------------ safetensors

_ST_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}


def read_safetensors(path):
    """name → numpy array; BF16 widened to float32."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        buf = raw[base + a:base + b]
        shape = tuple(info["shape"])
        dt = info["dtype"]
        if dt == "BF16":
            bits = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32).reshape(shape)
        elif dt in _ST_DTYPES:
            arr = np.frombuffer(buf, dtype=_ST_DTYPES[dt]).reshape(shape)
        else:
            raise ValueError("%s: tensor %s has unsupported dtype %s" % (path, name, dt))
        out[name] = arr.copy()
    return out


# ---------------------------------------------------------------- config

def _act_is_quick(name):
    if name in ("quick_gelu",):
        return True
    if name in ("gelu", "gelu_new", "gelu_pytorch_tanh"):
        if name != "gelu":
            raise ValueError("activation %r is not CLIP's" % name)
        return False
    raise ValueError("unknown activation %r" % name)


def load_config(dirpath):
    """Reads a model folder's configuration into one plain dict:

    {"format": "hf"|"open_clip", "embed_dim",
     "vision": {"kind": "vit"|"resnet", "image_size", "width", "layers",
                "heads", "patch_size", "quick_gelu", "ln_eps"},
     "text": {"width", "layers", "heads", "context_length", "vocab_size",
              "quick_gelu", "ln_eps"},
     "image_mean", "image_std", "image_resize", "image_crop",
     "alpha_background" (None: alpha dropped), "weights"}
    """
    hf = os.path.join(dirpath, "config.json")
    oc = os.path.join(dirpath, "open_clip_config.json")
    if os.path.exists(hf):
        with open(hf) as f:
            c = json.load(f)
        t = c.get("text_config") or {}
        v = c.get("vision_config") or {}
        cfg = {
            "format": "hf",
            "embed_dim": c.get("projection_dim", 512),
            "vision": {
                "kind": "vit",
                "image_size": v.get("image_size", 224),
                "patch_size": v.get("patch_size", 32),
                "width": v.get("hidden_size", 768),
                "layers": v.get("num_hidden_layers", 12),
                "heads": v.get("num_attention_heads", 12),
                "mlp": v.get("intermediate_size", 3072),
                "quick_gelu": _act_is_quick(v.get("hidden_act", "quick_gelu")),
                "ln_eps": v.get("layer_norm_eps", 1e-5),
            },
            "text": {
                "width": t.get("hidden_size", 512),
                "layers": t.get("num_hidden_layers", 12),
                "heads": t.get("num_attention_heads", 8),
                "mlp": t.get("intermediate_size", 2048),
                "context_length": t.get("max_position_embeddings", 77),
                "vocab_size": t.get("vocab_size", 49408),
                "quick_gelu": _act_is_quick(t.get("hidden_act", "quick_gelu")),
                "ln_eps": t.get("layer_norm_eps", 1e-5),
            },
            "weights": os.path.join(dirpath, "model.safetensors"),
        }
        S = cfg["vision"]["image_size"]
        mean, std, resize, crop = [0.48145466, 0.4578275, 0.40821073], \
            [0.26862954, 0.26130258, 0.27577711], S, S
        background = None
        pp = os.path.join(dirpath, "preprocessor_config.json")
        if os.path.exists(pp):
            with open(pp) as f:
                p = json.load(f)
            mean = p.get("image_mean", mean)
            std = p.get("image_std", std)
            size = p.get("size", resize)
            resize = size.get("shortest_edge", resize) if isinstance(size, dict) else size
            cs = p.get("crop_size", crop)
            crop = cs.get("height", crop) if isinstance(cs, dict) else cs
            background = p.get("alpha_background")
        cfg.update(image_mean=list(mean), image_std=list(std),
                   image_resize=resize, image_crop=crop, alpha_background=background)
        return cfg
    if os.path.exists(oc):
        with open(oc) as f:
            c = json.load(f)
        m = c.get("model_cfg", c)
        quick = bool(m.get("quick_gelu", c.get("quick_gelu", False)))
        v = m["vision_cfg"]
        t = m["text_cfg"]
        head_width = v.get("head_width", 64)
        if isinstance(v["layers"], (list, tuple)):
            vision = {
                "kind": "resnet",
                "image_size": v["image_size"],
                "width": v.get("width", 64),
                "layers": list(v["layers"]),
                "heads": v.get("width", 64) * 32 // head_width,
                "patch_size": 0,
                "quick_gelu": quick,
                "ln_eps": 1e-5,
            }
        else:
            W = v.get("width", 768)
            vision = {
                "kind": "vit",
                "image_size": v["image_size"],
                "width": W,
                "layers": v["layers"],
                "heads": W // head_width,
                "patch_size": v.get("patch_size", 16),
                "mlp": int(W * v.get("mlp_ratio", 4.0)),
                "quick_gelu": quick,
                "ln_eps": 1e-5,
            }
        Wt = t.get("width", 512)
        text = {
            "width": Wt,
            "layers": t.get("layers", 12),
            "heads": t.get("heads", 8),
            "mlp": int(Wt * t.get("mlp_ratio", 4.0)),
            "context_length": t.get("context_length", 77),
            "vocab_size": t.get("vocab_size", 49408),
            "quick_gelu": quick,
            "ln_eps": 1e-5,
        }
        p = c.get("preprocess_cfg", {})
        S = vision["image_size"]
        if isinstance(S, (list, tuple)):
            S = S[0]
            vision["image_size"] = S
        return {
            "format": "open_clip",
            "embed_dim": m["embed_dim"],
            "vision": vision,
            "text": text,
            "image_mean": list(p.get("mean", [0.48145466, 0.4578275, 0.40821073])),
            "image_std": list(p.get("std", [0.26862954, 0.26130258, 0.27577711])),
            "image_resize": S,
            "image_crop": S,
            "weights": os.path.join(dirpath, "open_clip_model.safetensors"),
        }
    raise FileNotFoundError("%s: neither config.json nor open_clip_config.json" % dirpath)


def load_model(dirpath):
    """(state: name → float32/int64 torch tensor as stored, cfg)."""
    cfg = load_config(dirpath)
    raw = read_safetensors(cfg["weights"])
    state = {}
    for k, a in raw.items():
        if np.issubdtype(a.dtype, np.floating):
            state[k] = torch.from_numpy(a.astype(np.float32))
        else:
            state[k] = torch.from_numpy(a)
    return state, cfg


# ---------------------------------------------------------------- weights

def canonical_state(state, dtype=torch.float64):
    """Either naming → OpenAI state-dict names, floating tensors as @dtype.
    Integer buffers are dropped."""
    s = {k: v for k, v in state.items() if torch.is_tensor(v) and v.is_floating_point()}
    if "text_model.embeddings.token_embedding.weight" not in s:
        return {k: v.to(dtype) for k, v in s.items()}

    out = {}

    def blocks(src, dst):
        i = 0
        while ("%s.encoder.layers.%d.self_attn.q_proj.weight" % (src, i)) in s:
            a = "%s.encoder.layers.%d." % (src, i)
            b = "%sresblocks.%d." % (dst, i)
            out[b + "attn.in_proj_weight"] = torch.cat(
                [s[a + "self_attn.%s_proj.weight" % n] for n in "qkv"], 0)
            out[b + "attn.in_proj_bias"] = torch.cat(
                [s[a + "self_attn.%s_proj.bias" % n] for n in "qkv"], 0)
            out[b + "attn.out_proj.weight"] = s[a + "self_attn.out_proj.weight"]
            out[b + "attn.out_proj.bias"] = s[a + "self_attn.out_proj.bias"]
            for x, y in (("layer_norm1", "ln_1"), ("layer_norm2", "ln_2")):
                out[b + y + ".weight"] = s[a + x + ".weight"]
                out[b + y + ".bias"] = s[a + x + ".bias"]
            out[b + "mlp.c_fc.weight"] = s[a + "mlp.fc1.weight"]
            out[b + "mlp.c_fc.bias"] = s[a + "mlp.fc1.bias"]
            out[b + "mlp.c_proj.weight"] = s[a + "mlp.fc2.weight"]
            out[b + "mlp.c_proj.bias"] = s[a + "mlp.fc2.bias"]
            i += 1

    out["token_embedding.weight"] = s["text_model.embeddings.token_embedding.weight"]
    out["positional_embedding"] = s["text_model.embeddings.position_embedding.weight"]
    blocks("text_model", "transformer.")
    out["ln_final.weight"] = s["text_model.final_layer_norm.weight"]
    out["ln_final.bias"] = s["text_model.final_layer_norm.bias"]
    out["text_projection"] = s["text_projection.weight"].t()
    out["visual.class_embedding"] = s["vision_model.embeddings.class_embedding"]
    out["visual.conv1.weight"] = s["vision_model.embeddings.patch_embedding.weight"]
    out["visual.positional_embedding"] = s["vision_model.embeddings.position_embedding.weight"]
    out["visual.ln_pre.weight"] = s["vision_model.pre_layrnorm.weight"]
    out["visual.ln_pre.bias"] = s["vision_model.pre_layrnorm.bias"]
    blocks("vision_model", "visual.transformer.")
    out["visual.ln_post.weight"] = s["vision_model.post_layernorm.weight"]
    out["visual.ln_post.bias"] = s["vision_model.post_layernorm.bias"]
    out["visual.proj"] = s["visual_projection.weight"].t()
    out["logit_scale"] = s["logit_scale"]
    return {k: v.contiguous().to(dtype) for k, v in out.items()}


def _canon(state, dtype):
    if "token_embedding.weight" in state and state["token_embedding.weight"].dtype == dtype:
        return state
    return canonical_state(state, dtype)


def logit_scale(state):
    """exp(logit_scale) as a Python float."""
    if "logit_scale" not in state:
        raise KeyError("logit_scale")
    return math.exp(float(state["logit_scale"].double()))


# ------------------------------------------------------------ primitives

def layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


def gelu_erf(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


# With int8_products(True), every matrix product with a weight matrix (the
# linear layers, the patch embedding, the projections) computes as
# Clipscope's --precision int8 does (engine/cpu/cpu-quant.h): the weight's
# rows (output channels) and the input's rows each quantised symmetrically
# to integers in [-127, 127] with one scale a row.
_INT8 = [False]


def int8_products(on):
    _INT8[0] = bool(on)


def quantise_rows(a):
    """@a with each row (last axis) replaced by s · q, s = max|row| / 127 and
    q = row · (127 / max|row|) rounded to the nearest integer, ties to even,
    all computed in float32 as the engine does; a row of zeros stays zeros."""
    a32 = a.detach().cpu().numpy().astype(np.float32)
    m = np.abs(a32).max(-1, keepdims=True)
    s = (m / np.float32(127)).astype(np.float32)
    inv = (np.float32(127) / np.where(s > 0, m, np.float32(1))).astype(np.float32)
    q = np.clip(np.rint(a32 * inv), -127, 127)
    q = np.where(s > 0, q, 0)
    return torch.as_tensor(q.astype(np.float64) * s.astype(np.float64), dtype=a.dtype)


def linear(x, w, b=None):
    if _INT8[0]:
        x, w = quantise_rows(x), quantise_rows(w)
    y = x @ w.t()
    return y if b is None else y + b


def attention(xq, xkv, wq, bq, wk, bk, wv, bv, wo, bo, heads, mask=None):
    """Multi-head attention, [N, Lq, W] × [N, Lk, W] → [N, Lq, Wo]."""
    N, Lq, W = xq.shape
    Lk = xkv.shape[1]
    d = W // heads
    q = linear(xq, wq, bq).reshape(N, Lq, heads, d).transpose(1, 2)
    k = linear(xkv, wk, bk).reshape(N, Lk, heads, d).transpose(1, 2)
    v = linear(xkv, wv, bv).reshape(N, Lk, heads, d).transpose(1, 2)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(d)
    if mask is not None:
        scores = scores + mask
    scores = scores - scores.max(-1, keepdim=True).values
    p = torch.exp(scores)
    p = p / p.sum(-1, keepdim=True)
    o = (p @ v).transpose(1, 2).reshape(N, Lq, W)
    return linear(o, wo, bo)


def residual_block(s, p, x, heads, act, mask=None, eps=1e-5):
    W = x.shape[-1]
    w_in, b_in = s[p + "attn.in_proj_weight"], s[p + "attn.in_proj_bias"]
    h = layer_norm(x, s[p + "ln_1.weight"], s[p + "ln_1.bias"], eps)
    x = x + attention(h, h,
                      w_in[:W], b_in[:W], w_in[W:2 * W], b_in[W:2 * W],
                      w_in[2 * W:], b_in[2 * W:],
                      s[p + "attn.out_proj.weight"], s[p + "attn.out_proj.bias"],
                      heads, mask)
    h = layer_norm(x, s[p + "ln_2.weight"], s[p + "ln_2.bias"], eps)
    h = act(linear(h, s[p + "mlp.c_fc.weight"], s[p + "mlp.c_fc.bias"]))
    return x + linear(h, s[p + "mlp.c_proj.weight"], s[p + "mlp.c_proj.bias"])


def _n_blocks(s, prefix):
    n = 0
    while ("%sresblocks.%d.ln_1.weight" % (prefix, n)) in s:
        n += 1
    return n


def batch_norm(x, s, p, eps=1e-5):
    shape = (1, -1, 1, 1)
    return ((x - s[p + "running_mean"].reshape(shape))
            / torch.sqrt(s[p + "running_var"].reshape(shape) + eps)
            * s[p + "weight"].reshape(shape) + s[p + "bias"].reshape(shape))


def normalise(x):
    return x / torch.sqrt((x * x).sum(-1, keepdim=True))


# ----------------------------------------------------------- image tower

def _vit_blocks(s, cfg, x):
    """pixels → the last block's output, every token: [N, 1 + g², W]."""
    v = cfg["vision"]
    p = s["visual.conv1.weight"].shape[-1]
    act = quick_gelu if v["quick_gelu"] else gelu_erf
    w = s["visual.conv1.weight"]
    if _INT8[0]:
        # The patches as rows (channel, row, column), as the engine reads them.
        x = linear(F.unfold(x, p, stride=p).transpose(1, 2), w.reshape(w.shape[0], -1))
        N, W = x.shape[0], x.shape[2]
    else:
        x = F.conv2d(x, w, stride=p)                              # [N, W, g, g]
        N, W = x.shape[:2]
        x = x.reshape(N, W, -1).transpose(1, 2)                   # [N, g², W]
    cls = s["visual.class_embedding"].reshape(1, 1, W).expand(N, 1, W)
    x = torch.cat([cls, x], 1) + s["visual.positional_embedding"]
    x = layer_norm(x, s["visual.ln_pre.weight"], s["visual.ln_pre.bias"], v["ln_eps"])
    for i in range(_n_blocks(s, "visual.transformer.")):
        x = residual_block(s, "visual.transformer.resblocks.%d." % i, x,
                           v["heads"], act, None, v["ln_eps"])
    return x


def _vit_project(s, cfg, x):
    """LN_post and the projection of tokens [..., W] → [..., E]."""
    x = layer_norm(x, s["visual.ln_post.weight"], s["visual.ln_post.bias"], cfg["vision"]["ln_eps"])
    return linear(x, s["visual.proj"].t())


def _vit(s, cfg, x):
    return _vit_project(s, cfg, _vit_blocks(s, cfg, x)[:, 0])


def _bottleneck(s, p, x, stride):
    out = F.relu(batch_norm(F.conv2d(x, s[p + "conv1.weight"]), s, p + "bn1."))
    out = F.relu(batch_norm(F.conv2d(out, s[p + "conv2.weight"], padding=1), s, p + "bn2."))
    if stride > 1:
        out = F.avg_pool2d(out, stride)
    out = batch_norm(F.conv2d(out, s[p + "conv3.weight"]), s, p + "bn3.")
    if (p + "downsample.0.weight") in s:
        idt = F.avg_pool2d(x, stride) if stride > 1 else x
        idt = batch_norm(F.conv2d(idt, s[p + "downsample.0.weight"]), s, p + "downsample.1.")
    else:
        idt = x
    return F.relu(out + idt)


def _resnet_tokens(s, x):
    """pixels → the attention pool's input: [N, 1 + HW, C], the mean of
    the final grid first, positions added."""
    x = F.relu(batch_norm(F.conv2d(x, s["visual.conv1.weight"], stride=2, padding=1), s, "visual.bn1."))
    x = F.relu(batch_norm(F.conv2d(x, s["visual.conv2.weight"], padding=1), s, "visual.bn2."))
    x = F.relu(batch_norm(F.conv2d(x, s["visual.conv3.weight"], padding=1), s, "visual.bn3."))
    x = F.avg_pool2d(x, 2)
    for li in range(4):
        j = 0
        while ("visual.layer%d.%d.conv1.weight" % (li + 1, j)) in s:
            stride = 2 if (li > 0 and j == 0) else 1
            x = _bottleneck(s, "visual.layer%d.%d." % (li + 1, j), x, stride)
            j += 1
    N, C = x.shape[:2]
    t = x.reshape(N, C, -1).transpose(1, 2)                       # [N, HW, C]
    t = torch.cat([t.mean(1, keepdim=True), t], 1)
    return t + s["visual.attnpool.positional_embedding"]


def _attention_pool(s, cfg, queries, t):
    """The attention pool with @queries [N, Lq, C] over all tokens @t."""
    a = "visual.attnpool."
    return attention(queries, t,
                     s[a + "q_proj.weight"], s[a + "q_proj.bias"],
                     s[a + "k_proj.weight"], s[a + "k_proj.bias"],
                     s[a + "v_proj.weight"], s[a + "v_proj.bias"],
                     s[a + "c_proj.weight"], s[a + "c_proj.bias"],
                     cfg["vision"]["heads"])


def _resnet(s, cfg, x):
    t = _resnet_tokens(s, x)
    return _attention_pool(s, cfg, t[:, :1], t)[:, 0]


def encode_image(state, cfg, pixels, dtype=torch.float64, normalize=True):
    """pixels [N, 3, S, S] (numpy or torch) → [N, E] (unit rows by default)."""
    s = _canon(state, dtype)
    x = torch.as_tensor(np.asarray(pixels) if not torch.is_tensor(pixels) else pixels).to(dtype)
    with torch.no_grad():
        if cfg["vision"]["kind"] == "vit":
            y = _vit(s, cfg, x)
        else:
            y = _resnet(s, cfg, x)
    return normalise(y) if normalize else y


def spatial_embeddings(state, cfg, pixels, dtype=torch.float64):
    """pixels [N, 3, S, S] → [N, grid, grid, E], unit rows: what the image
    tower makes of each cell of its input grid.

    ViT: every patch token of the last block through LN_post and the
    projection, as the class token goes. ResNet: the attention pool with
    each grid position's token as the query, over all tokens."""
    s = _canon(state, dtype)
    x = torch.as_tensor(np.asarray(pixels) if not torch.is_tensor(pixels) else pixels).to(dtype)
    with torch.no_grad():
        if cfg["vision"]["kind"] == "vit":
            y = _vit_project(s, cfg, _vit_blocks(s, cfg, x)[:, 1:])
        else:
            t = _resnet_tokens(s, x)
            y = _attention_pool(s, cfg, t[:, 1:], t)
    grid = int(round(math.sqrt(y.shape[1])))
    return normalise(y).reshape(y.shape[0], grid, grid, -1)


def explain_map(state, cfg, pixels, label):
    """[N, grid, grid] cosines of each cell with the unit vector @label [E]."""
    return spatial_embeddings(state, cfg, pixels, label.dtype) @ label


# ------------------------------------------------------------ text tower

def pad_tokens(tokens, context_length):
    out = torch.zeros(len(tokens), context_length, dtype=torch.long)
    for i, t in enumerate(tokens):
        if len(t) > context_length:
            raise ValueError("%d tokens exceed the context of %d" % (len(t), context_length))
        out[i, :len(t)] = torch.tensor(list(t), dtype=torch.long)
    return out


def encode_text(state, cfg, tokens, dtype=torch.float64, normalize=True):
    """tokens: list of id lists (start … end-of-text) → [N, E]."""
    s = _canon(state, dtype)
    t = cfg["text"]
    ctx = s["positional_embedding"].shape[0]
    ids = pad_tokens(tokens, ctx)
    act = quick_gelu if t["quick_gelu"] else gelu_erf
    mask = torch.full((ctx, ctx), float("-inf"), dtype=dtype).triu(1)
    with torch.no_grad():
        x = s["token_embedding.weight"][ids] + s["positional_embedding"]
        for i in range(_n_blocks(s, "transformer.")):
            x = residual_block(s, "transformer.resblocks.%d." % i, x, t["heads"], act, mask, t["ln_eps"])
        x = layer_norm(x, s["ln_final.weight"], s["ln_final.bias"], t["ln_eps"])
        x = linear(x[torch.arange(x.shape[0]), ids.argmax(-1)], s["text_projection"].t())
    return normalise(x) if normalize else x


# ---------------------------------------------------------- zero-shot use

def encode_labels(state, cfg, tokenize, labels, templates, dtype=torch.float64):
    """CLIP's zero-shot classifier: [n_labels, E]. @tokenize maps a text to ids."""
    rows = []
    for label in labels:
        toks = [tokenize(tpl.replace("{}", label, 1)) for tpl in templates]
        e = encode_text(state, cfg, toks, dtype)
        rows.append(normalise(e.mean(0, keepdim=True))[0])
    return torch.stack(rows)


def score(images, labels, scale):
    """(similarity, probabilities) for unit image rows × unit label rows."""
    sim = images @ labels.t()
    probs = torch.softmax(scale * sim, -1)
    return sim, probs


# ---------------------------------------------------------- preprocessing

def composite_rgb(im, background):
    """PIL image @im as RGB, each pixel (colour × alpha + @background ×
    (255 − alpha)) / 255 rounded to nearest (never a tie); images without
    alpha unchanged."""
    from PIL import Image

    if im.mode not in ("RGBA", "LA", "PA") and "transparency" not in im.info:
        return im.convert("RGB")
    rgba = np.asarray(im.convert("RGBA"), dtype=np.int64)
    a = rgba[..., 3:]
    mixed = rgba[..., :3] * a + np.array(background, dtype=np.int64) * (255 - a)
    return Image.fromarray(((2 * mixed + 255) // 510).astype(np.uint8), "RGB")


def preprocess_image(path, size, crop=None, mean=None, std=None, background=None):
    """CLIP's image transform with PIL: [3, crop, crop] float64 numpy.  With
    @background (8-bit RGB), transparent pixels are composited onto it,
    rounded to nearest, instead of losing their alpha."""
    from PIL import Image, ImageOps

    crop = size if crop is None else crop
    mean = np.array(mean if mean is not None else [0.48145466, 0.4578275, 0.40821073])
    std = np.array(std if std is not None else [0.26862954, 0.26130258, 0.27577711])
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        im = im.convert("RGB") if background is None else composite_rgb(im, background)
    w, h = im.size
    if w <= h:
        nw, nh = size, int(size * h / w)
    else:
        nw, nh = int(size * w / h), size
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.BICUBIC)
    top = int(round((nh - crop) / 2.0))
    left = int(round((nw - crop) / 2.0))
    im = im.crop((left, top, left + crop, top + crop))
    a = np.asarray(im, dtype=np.float64) / 255.0
    a = (a - mean) / std
    return np.ascontiguousarray(a.transpose(2, 0, 1))


def preprocess_for(cfg, path):
    return preprocess_image(path, cfg["image_resize"], cfg["image_crop"],
                            cfg["image_mean"], cfg["image_std"], cfg.get("alpha_background"))


# -------------------------------------------------------------- tokenizer

def _bytes_to_unicode():
    bs = (list(range(ord("!"), ord("~") + 1))
          + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


class Tokenizer:
    """CLIP's BPE from vocab.json + merges.txt, for texts that need no
    ftfy repair or HTML unescaping. Letters are Python's alphabetic
    characters, which matches \\p{L} for the texts the tests use."""

    _pat = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d"
                      r"|[^\W\d_]+|\d|(?:[^\s\w]|_)+", re.IGNORECASE)

    def __init__(self, dirpath):
        with open(os.path.join(dirpath, "vocab.json"), encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(os.path.join(dirpath, "merges.txt"), encoding="utf-8") as f:
            lines = f.read().split("\n")
        if lines and lines[0].startswith("#version"):
            lines = lines[1:]
        merges = [tuple(l.split()) for l in lines if l.strip()]
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.byte_encoder = _bytes_to_unicode()
        self.sot = self.encoder["<|startoftext|>"]
        self.eot = self.encoder["<|endoftext|>"]
        self.cache = {}

    def _bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = list(token[:-1]) + [token[-1] + "</w>"]
        while len(word) > 1:
            pairs = [(word[i], word[i + 1]) for i in range(len(word) - 1)]
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            a, b = best
            new = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                    new.append(a + b)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = new
        self.cache[token] = word
        return word

    def encode(self, text, context_length=None):
        text = re.sub(r"\s+", " ", text).strip().lower()
        ids = []
        for piece in self._pat.findall(text):
            piece = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self._bpe(piece))
        out = [self.sot] + ids + [self.eot]
        if context_length is not None and len(out) > context_length:
            out = out[:context_length]
            out[-1] = self.eot
        return out
