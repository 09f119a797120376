#!/usr/bin/python3
"""Tiny random CLIP checkpoints for tests.

make_model() writes a complete model folder — weights, configuration and a
small byte-level BPE tokenizer — in either the Hugging Face layout or the
open_clip layout (OpenAI state-dict names), with a ViT or a ModifiedResNet
image tower, stored as float32, float16 or bfloat16. The weights are random
but scaled so that every part of the network contributes to the output.

It returns the weights exactly as stored (after rounding to the file's dtype
and widening back to float32), keyed by the names used in the file, so that a
reference implementation can compute with the very same numbers.

Command line:
    tinyclip.py OUT_DIR [--format hf|open_clip] [--vision vit|resnet]
                [--dtype F32|F16|BF16] [--seed N] [--gelu] [--dim KEY=VALUE]…
"""

import json
import os
import struct
import sys

import numpy as np

__all__ = [
    "write_safetensors",
    "bytes_to_unicode",
    "make_tokenizer",
    "make_model",
    "round_to_dtype",
    "DEFAULT_DIMS",
    "CLIP_MEAN",
    "CLIP_STD",
]

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

# ------------------------------------------------------------ safetensors

_NP_DTYPES = {
    "F32": np.float32,
    "F16": np.float16,
    "F64": np.float64,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


def f32_to_bf16_bits(a):
    """float32 array → uint16 bfloat16 bit patterns, round to nearest even."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    bits = a.view(np.uint32).astype(np.uint64)
    nan = np.isnan(a)
    rounding = ((bits >> 16) & 1) + 0x7FFF
    out = ((bits + rounding) >> 16).astype(np.uint16)
    if nan.any():
        out[nan] = ((bits[nan] >> 16) | 0x40).astype(np.uint16)
    return out


def bf16_bits_to_f32(b):
    b = np.ascontiguousarray(b, dtype=np.uint16)
    return (b.astype(np.uint32) << 16).view(np.float32)


def round_to_dtype(a, dtype):
    """The float32 value a float32 array takes once stored as @dtype."""
    a = np.asarray(a, dtype=np.float32)
    if dtype == "F32":
        return a.copy()
    if dtype == "F16":
        return a.astype(np.float16).astype(np.float32)
    if dtype == "BF16":
        return bf16_bits_to_f32(f32_to_bf16_bits(a)).reshape(a.shape)
    raise ValueError("not a float dtype: %r" % (dtype,))


def _encode_tensor(arr, dtype):
    arr = np.asarray(arr)
    if dtype == "BF16":
        return f32_to_bf16_bits(arr.astype(np.float32)).tobytes()
    if dtype not in _NP_DTYPES:
        raise ValueError("unsupported dtype %r" % (dtype,))
    return np.ascontiguousarray(
        arr.astype(np.dtype(_NP_DTYPES[dtype]).newbyteorder("<"))).tobytes()


def write_safetensors(path, tensors, dtypes=None, metadata=None):
    """Writes a safetensors file.

    @tensors: name → numpy array (any numeric dtype)
    @dtypes: name → 'F32' | 'F16' | 'BF16' | 'I64' | … , or one string for
      every tensor; by default float arrays are F32 and integer arrays I64.
    """
    header = {}
    chunks = []
    offset = 0
    if metadata is None:
        metadata = {"format": "pt"}
    if metadata:
        header["__metadata__"] = dict(metadata)
    for name, arr in tensors.items():
        arr = np.asarray(arr)
        if isinstance(dtypes, str):
            dt = dtypes if np.issubdtype(arr.dtype, np.floating) else "I64"
        elif dtypes and name in dtypes:
            dt = dtypes[name]
        else:
            dt = "F32" if np.issubdtype(arr.dtype, np.floating) else "I64"
        data = _encode_tensor(arr, dt)
        header[name] = {
            "dtype": dt,
            "shape": [int(s) for s in arr.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    hdr = json.dumps(header, separators=(",", ":")).encode("utf-8")
    # The data starts at 8 + len(header); keep it 8-byte aligned.
    hdr += b" " * ((-len(hdr)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hdr)))
        f.write(hdr)
        for c in chunks:
            f.write(c)


# -------------------------------------------------------------- tokenizer

def bytes_to_unicode():
    """CLIP's reversible byte → printable character table, in CLIP's order."""
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


# Merges of common English pieces. Every part is either a byte symbol or
# the result of an earlier merge, so the list is a valid BPE table.
TINY_MERGES = [
    "t h", "th e</w>", "i n", "in g</w>", "a n", "an d</w>", "o f</w>",
    "t o</w>", "i s</w>", "o n</w>", "e r", "e r</w>", "r e", "e n",
    "o r", "a t</w>", "e s</w>", "e d</w>", "p h", "ph o", "pho t",
    "phot o</w>", "c a", "ca t</w>", "d o", "do g</w>", "th i", "thi s</w>",
    "s t", "o u", "ou t</w>", "a r", "a l</w>", "i c", "l l", "l e</w>",
    "b i", "bi r", "bir d</w>", "c ar</w>", "r ed</w>", "b l", "bl u",
    "blu e</w>", "g re", "gre en</w>", "w h", "wh i", "whi t", "whit e</w>",
    "p ic", "pic t", "pict u", "pictu re</w>", "o g", "d og", "s un",
    "u n", "s un</w>",
]


def _valid_tiny_merges():
    # Drop anything malformed or redundant so the table is always
    # self-consistent.
    base = set(bytes_to_unicode().values())
    have = base | {s + "</w>" for s in base}
    out = []
    for m in TINY_MERGES:
        parts = m.split(" ")
        if len(parts) != 2 or parts[0] not in have or parts[1] not in have:
            continue
        merged = parts[0] + parts[1]
        if merged in have:
            continue
        have.add(merged)
        out.append(m)
    return out


def make_tokenizer(vocab_size=None):
    """Returns (vocab: token → id, merges: list of "a b").

    Without @vocab_size the vocabulary is the 512 byte symbols, a few dozen
    merges and the two special tokens. With it, extra synthetic merges are
    generated until the vocabulary has exactly @vocab_size entries."""
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols]
    merges = _valid_tiny_merges()
    have = set(tokens)
    for m in merges:
        have.add(m.replace(" ", ""))
    if vocab_size is not None:
        need = vocab_size - len(tokens) - 2 - len(merges)
        if need < 0:
            raise ValueError("vocab_size %d too small" % vocab_size)
        letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
        frontier = list(letters)
        while need > 0:
            nxt = []
            for left in frontier:
                for right in letters:
                    for r in (right, right + "</w>"):
                        if need == 0:
                            break
                        merged = left + r
                        if merged in have:
                            continue
                        have.add(merged)
                        merges.append(left + " " + r)
                        need -= 1
                        if not r.endswith("</w>"):
                            nxt.append(merged)
                if need == 0:
                    break
            frontier = nxt
    for m in merges:
        tokens.append(m.replace(" ", ""))
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(tokens)}
    assert len(vocab) == len(tokens), "duplicate token"
    return vocab, merges


def write_tokenizer(dirpath, vocab_size=None):
    vocab, merges = make_tokenizer(vocab_size)
    with open(os.path.join(dirpath, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(dirpath, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for m in merges:
            f.write(m + "\n")
    return vocab, merges


# ------------------------------------------------------------------ model

DEFAULT_DIMS = {
    # ViT image tower
    "image_size": 32,
    "patch_size": 8,
    "vision_width": 48,
    "vision_layers": 2,
    "vision_heads": 4,
    "vision_mlp": None,          # 4 × width
    # ModifiedResNet image tower (its image_size defaults to 64)
    "resnet_layers": [1, 1, 1, 1],
    "resnet_width": 8,
    "resnet_head_width": 64,     # open_clip's head_width: width × 32 // it heads
    # text tower
    "text_width": 32,
    "text_heads": 4,
    "text_layers": 2,
    "text_mlp": None,            # 4 × width
    "context_length": 16,
    "vocab_size": None,          # None: the tiny tokenizer's size
    "embed_dim": 24,
    # initialisation: None draws layer-dependent scales, a number uses that
    # standard deviation for every weight matrix (as CLIP's init does)
    "init_std": None,
    # store LayerNorm / BatchNorm parameters as float32 even in a f16/bf16
    # file, as OpenAI's half-precision checkpoints do
    "norms_f32": False,
}


class _Init:
    def __init__(self, seed, init_std):
        self.rng = np.random.default_rng(seed)
        self.init_std = init_std

    def normal(self, shape, std):
        return (self.rng.standard_normal(shape) * std).astype(np.float32)

    def weight(self, shape, fan_in, gain=1.0):
        std = self.init_std if self.init_std is not None else gain / np.sqrt(fan_in)
        return self.normal(shape, std)

    def bias(self, n, std=0.05):
        if self.init_std is not None:
            std = min(std, self.init_std)
        return self.normal((n,), std)

    def ln(self, n):
        if self.init_std is not None:
            return (np.ones(n, np.float32) + self.normal((n,), 0.01),
                    self.normal((n,), 0.01))
        return (1.0 + self.normal((n,), 0.1), self.normal((n,), 0.05))

    def bn(self, n):
        w = 1.0 + self.normal((n,), 0.1)
        b = self.normal((n,), 0.1)
        mean = self.normal((n,), 0.2)
        var = self.rng.uniform(0.5, 2.0, size=n).astype(np.float32)
        return w, b, mean, var


def _transformer(init, prefix, width, layers, mlp):
    sd = {}
    for i in range(layers):
        p = "%sresblocks.%d." % (prefix, i)
        sd[p + "ln_1.weight"], sd[p + "ln_1.bias"] = init.ln(width)
        sd[p + "attn.in_proj_weight"] = init.weight((3 * width, width), width)
        sd[p + "attn.in_proj_bias"] = init.bias(3 * width)
        sd[p + "attn.out_proj.weight"] = init.weight((width, width), width)
        sd[p + "attn.out_proj.bias"] = init.bias(width)
        sd[p + "ln_2.weight"], sd[p + "ln_2.bias"] = init.ln(width)
        sd[p + "mlp.c_fc.weight"] = init.weight((mlp, width), width)
        sd[p + "mlp.c_fc.bias"] = init.bias(mlp)
        sd[p + "mlp.c_proj.weight"] = init.weight((width, mlp), mlp)
        sd[p + "mlp.c_proj.bias"] = init.bias(width)
    return sd


def _bn(init, sd, p, n):
    w, b, m, v = init.bn(n)
    sd[p + "weight"], sd[p + "bias"] = w, b
    sd[p + "running_mean"], sd[p + "running_var"] = m, v
    sd[p + "num_batches_tracked"] = np.array(1000, dtype=np.int64)


def _conv(init, shape):
    fan_in = shape[1] * shape[2] * shape[3]
    if init.init_std is not None:
        return init.normal(shape, init.init_std)
    return init.normal(shape, np.sqrt(2.0 / fan_in))


def _openai_state(d, vision, seed):
    """The random weights, keyed by OpenAI's state-dict names."""
    init = _Init(seed, d["init_std"])
    sd = {}
    E = d["embed_dim"]
    # text tower
    Wt, ctx, V = d["text_width"], d["context_length"], d["vocab_size"]
    sd["token_embedding.weight"] = init.normal((V, Wt), init.init_std or 0.1)
    sd["positional_embedding"] = init.normal((ctx, Wt), init.init_std or 0.05)
    sd.update(_transformer(init, "transformer.", Wt, d["text_layers"], d["text_mlp"]))
    sd["ln_final.weight"], sd["ln_final.bias"] = init.ln(Wt)
    sd["text_projection"] = init.weight((Wt, E), Wt)
    # image tower
    S = d["image_size"]
    if vision == "vit":
        W, p = d["vision_width"], d["patch_size"]
        g = S // p
        sd["visual.class_embedding"] = init.normal((W,), init.init_std or W ** -0.5)
        sd["visual.positional_embedding"] = init.normal((g * g + 1, W), init.init_std or 0.5 * W ** -0.5)
        sd["visual.proj"] = init.weight((W, E), W)
        sd["visual.conv1.weight"] = init.weight((W, 3, p, p), 3 * p * p)
        sd["visual.ln_pre.weight"], sd["visual.ln_pre.bias"] = init.ln(W)
        sd.update(_transformer(init, "visual.transformer.", W, d["vision_layers"], d["vision_mlp"]))
        sd["visual.ln_post.weight"], sd["visual.ln_post.bias"] = init.ln(W)
    else:
        w = d["resnet_width"]
        sd["visual.conv1.weight"] = _conv(init, (w // 2, 3, 3, 3))
        _bn(init, sd, "visual.bn1.", w // 2)
        sd["visual.conv2.weight"] = _conv(init, (w // 2, w // 2, 3, 3))
        _bn(init, sd, "visual.bn2.", w // 2)
        sd["visual.conv3.weight"] = _conv(init, (w, w // 2, 3, 3))
        _bn(init, sd, "visual.bn3.", w)
        inplanes = w
        for li, (blocks, mult, stride) in enumerate(zip(d["resnet_layers"], (1, 2, 4, 8), (1, 2, 2, 2))):
            planes = w * mult
            for j in range(blocks):
                p = "visual.layer%d.%d." % (li + 1, j)
                s = stride if j == 0 else 1
                sd[p + "conv1.weight"] = _conv(init, (planes, inplanes, 1, 1))
                _bn(init, sd, p + "bn1.", planes)
                sd[p + "conv2.weight"] = _conv(init, (planes, planes, 3, 3))
                _bn(init, sd, p + "bn2.", planes)
                sd[p + "conv3.weight"] = _conv(init, (planes * 4, planes, 1, 1))
                _bn(init, sd, p + "bn3.", planes * 4)
                if s > 1 or inplanes != planes * 4:
                    # OpenAI's Sequential is ("-1": AvgPool2d, "0": conv, "1": bn)
                    sd[p + "downsample.0.weight"] = _conv(init, (planes * 4, inplanes, 1, 1))
                    _bn(init, sd, p + "downsample.1.", planes * 4)
                inplanes = planes * 4
        D = w * 32
        grid = S // 32
        sd["visual.attnpool.positional_embedding"] = init.normal((grid * grid + 1, D), init.init_std or D ** -0.5)
        for n in ("q", "k", "v"):
            sd["visual.attnpool.%s_proj.weight" % n] = init.weight((D, D), D)
            sd["visual.attnpool.%s_proj.bias" % n] = init.bias(D)
        sd["visual.attnpool.c_proj.weight"] = init.weight((E, D), D)
        sd["visual.attnpool.c_proj.bias"] = init.bias(E)
    ls = np.log(1 / 0.07) + (0.0 if init.init_std is not None else float(init.rng.normal() * 0.3))
    sd["logit_scale"] = np.array(ls, dtype=np.float32)
    return sd


def _to_hf(sd, d):
    """OpenAI names → Hugging Face CLIPModel names."""
    out = {}

    def blocks(src, dst, layers, width):
        for i in range(layers):
            s = "%sresblocks.%d." % (src, i)
            t = "%s.encoder.layers.%d." % (dst, i)
            w, b = sd[s + "attn.in_proj_weight"], sd[s + "attn.in_proj_bias"]
            for k, n in enumerate(("q", "k", "v")):
                out[t + "self_attn.%s_proj.weight" % n] = w[k * width:(k + 1) * width]
                out[t + "self_attn.%s_proj.bias" % n] = b[k * width:(k + 1) * width]
            out[t + "self_attn.out_proj.weight"] = sd[s + "attn.out_proj.weight"]
            out[t + "self_attn.out_proj.bias"] = sd[s + "attn.out_proj.bias"]
            for a, bname in (("ln_1", "layer_norm1"), ("ln_2", "layer_norm2")):
                out[t + bname + ".weight"] = sd[s + a + ".weight"]
                out[t + bname + ".bias"] = sd[s + a + ".bias"]
            out[t + "mlp.fc1.weight"] = sd[s + "mlp.c_fc.weight"]
            out[t + "mlp.fc1.bias"] = sd[s + "mlp.c_fc.bias"]
            out[t + "mlp.fc2.weight"] = sd[s + "mlp.c_proj.weight"]
            out[t + "mlp.fc2.bias"] = sd[s + "mlp.c_proj.bias"]

    ctx = d["context_length"]
    out["text_model.embeddings.token_embedding.weight"] = sd["token_embedding.weight"]
    out["text_model.embeddings.position_embedding.weight"] = sd["positional_embedding"]
    out["text_model.embeddings.position_ids"] = np.arange(ctx, dtype=np.int64)[None]
    blocks("transformer.", "text_model", d["text_layers"], d["text_width"])
    out["text_model.final_layer_norm.weight"] = sd["ln_final.weight"]
    out["text_model.final_layer_norm.bias"] = sd["ln_final.bias"]
    out["text_projection.weight"] = np.ascontiguousarray(sd["text_projection"].T)
    npos = sd["visual.positional_embedding"].shape[0]
    out["vision_model.embeddings.class_embedding"] = sd["visual.class_embedding"]
    out["vision_model.embeddings.patch_embedding.weight"] = sd["visual.conv1.weight"]
    out["vision_model.embeddings.position_embedding.weight"] = sd["visual.positional_embedding"]
    out["vision_model.embeddings.position_ids"] = np.arange(npos, dtype=np.int64)[None]
    out["vision_model.pre_layrnorm.weight"] = sd["visual.ln_pre.weight"]
    out["vision_model.pre_layrnorm.bias"] = sd["visual.ln_pre.bias"]
    blocks("visual.transformer.", "vision_model", d["vision_layers"], d["vision_width"])
    out["vision_model.post_layernorm.weight"] = sd["visual.ln_post.weight"]
    out["vision_model.post_layernorm.bias"] = sd["visual.ln_post.bias"]
    out["visual_projection.weight"] = np.ascontiguousarray(sd["visual.proj"].T)
    out["logit_scale"] = sd["logit_scale"]
    return out


def _is_norm(name):
    return any(k in name for k in ("ln_", "layer_norm", "layernorm", "layrnorm",
                                   ".bn", "downsample.1.", "ln_final"))


def _resolve_dims(vision, dims):
    d = dict(DEFAULT_DIMS)
    unknown = set(dims) - set(d)
    if unknown:
        raise TypeError("unknown dimension(s): %s" % ", ".join(sorted(unknown)))
    if vision == "resnet" and "image_size" not in dims:
        d["image_size"] = 64
    d.update(dims)
    d["resnet_layers"] = list(d["resnet_layers"])
    if d["vision_mlp"] is None:
        d["vision_mlp"] = 4 * d["vision_width"]
    if d["text_mlp"] is None:
        d["text_mlp"] = 4 * d["text_width"]
    if vision == "vit":
        assert d["image_size"] % d["patch_size"] == 0
        assert d["vision_width"] % d["vision_heads"] == 0
    else:
        assert d["image_size"] % 32 == 0, "ResNet image_size must be a multiple of 32"
        assert (d["resnet_width"] * 32) % d["resnet_head_width"] == 0
    assert d["text_width"] % d["text_heads"] == 0
    return d


def make_model(dirpath, fmt="hf", vision="vit", dtype="F32", seed=0,
               quick_gelu=True, **dims):
    """Writes a random tiny CLIP into @dirpath (created if needed).

    Returns {name: torch.float32 tensor} holding exactly the stored values,
    under the names the weights file uses (integer buffers included)."""
    import torch

    if fmt not in ("hf", "open_clip"):
        raise ValueError("fmt must be 'hf' or 'open_clip'")
    if vision not in ("vit", "resnet"):
        raise ValueError("vision must be 'vit' or 'resnet'")
    if fmt == "hf" and vision != "vit":
        raise ValueError("the Hugging Face layout has a ViT image tower only")
    if dtype not in ("F32", "F16", "BF16"):
        raise ValueError("dtype must be F32, F16 or BF16")
    d = _resolve_dims(vision, dims)
    os.makedirs(dirpath, exist_ok=True)

    vocab, _ = write_tokenizer(dirpath, d["vocab_size"])
    V = len(vocab)
    d["vocab_size"] = V

    sd = _openai_state(d, vision, seed)
    if fmt == "hf":
        sd = _to_hf(sd, d)

    dtypes = {}
    stored = {}
    for name, arr in sd.items():
        if not np.issubdtype(arr.dtype, np.floating):
            dtypes[name] = "I64"
            stored[name] = arr
            continue
        dt = dtype
        if d["norms_f32"] and (_is_norm(name) or name == "logit_scale"):
            dt = "F32"
        dtypes[name] = dt
        stored[name] = round_to_dtype(arr, dt)

    act = "quick_gelu" if quick_gelu else "gelu"
    S, E = d["image_size"], d["embed_dim"]
    if fmt == "hf":
        write_safetensors(os.path.join(dirpath, "model.safetensors"), stored, dtypes)
        config = {
            "architectures": ["CLIPModel"],
            "model_type": "clip",
            "projection_dim": E,
            "logit_scale_init_value": 2.6592,
            "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype],
            "text_config": {
                "model_type": "clip_text_model",
                "hidden_size": d["text_width"],
                "intermediate_size": d["text_mlp"],
                "num_attention_heads": d["text_heads"],
                "num_hidden_layers": d["text_layers"],
                "max_position_embeddings": d["context_length"],
                "vocab_size": V,
                "hidden_act": act,
                "layer_norm_eps": 1e-5,
                "projection_dim": E,
                "bos_token_id": V - 2,
                "eos_token_id": V - 1,
                "pad_token_id": 1,
            },
            "vision_config": {
                "model_type": "clip_vision_model",
                "hidden_size": d["vision_width"],
                "intermediate_size": d["vision_mlp"],
                "num_attention_heads": d["vision_heads"],
                "num_hidden_layers": d["vision_layers"],
                "image_size": S,
                "patch_size": d["patch_size"],
                "hidden_act": act,
                "layer_norm_eps": 1e-5,
                "num_channels": 3,
                "projection_dim": E,
            },
        }
        with open(os.path.join(dirpath, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
        pre = {
            "crop_size": {"height": S, "width": S},
            "size": {"shortest_edge": S},
            "do_center_crop": True,
            "do_normalize": True,
            "do_resize": True,
            "do_rescale": True,
            "do_convert_rgb": True,
            "rescale_factor": 1 / 255,
            "image_mean": CLIP_MEAN,
            "image_std": CLIP_STD,
            "image_processor_type": "CLIPImageProcessor",
            "resample": 3,
        }
        with open(os.path.join(dirpath, "preprocessor_config.json"), "w") as f:
            json.dump(pre, f, indent=2)
    else:
        write_safetensors(os.path.join(dirpath, "open_clip_model.safetensors"), stored, dtypes)
        if vision == "vit":
            vcfg = {
                "image_size": S,
                "layers": d["vision_layers"],
                "width": d["vision_width"],
                "patch_size": d["patch_size"],
                "head_width": d["vision_width"] // d["vision_heads"],
            }
            if d["vision_mlp"] != 4 * d["vision_width"]:
                vcfg["mlp_ratio"] = d["vision_mlp"] / d["vision_width"]
        else:
            vcfg = {
                "image_size": S,
                "layers": d["resnet_layers"],
                "width": d["resnet_width"],
            }
            if d["resnet_head_width"] != 64:
                vcfg["head_width"] = d["resnet_head_width"]
        tcfg = {
            "context_length": d["context_length"],
            "vocab_size": V,
            "width": d["text_width"],
            "heads": d["text_heads"],
            "layers": d["text_layers"],
        }
        if d["text_mlp"] != 4 * d["text_width"]:
            tcfg["mlp_ratio"] = d["text_mlp"] / d["text_width"]
        config = {
            "model_cfg": {
                "embed_dim": E,
                "quick_gelu": bool(quick_gelu),
                "vision_cfg": vcfg,
                "text_cfg": tcfg,
            },
            "preprocess_cfg": {
                "mean": CLIP_MEAN,
                "std": CLIP_STD,
                "interpolation": "bicubic",
                "resize_mode": "shortest",
            },
        }
        with open(os.path.join(dirpath, "open_clip_config.json"), "w") as f:
            json.dump(config, f, indent=2)

    out = {}
    for name, arr in stored.items():
        if np.issubdtype(arr.dtype, np.floating):
            out[name] = torch.from_numpy(np.array(arr, dtype=np.float32))
        else:
            out[name] = torch.from_numpy(np.array(arr))
    return out


# ------------------------------------------------------------------- CLI

def _parse_value(v):
    try:
        return json.loads(v)
    except ValueError:
        return v


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description="Write a tiny random CLIP model folder.")
    ap.add_argument("out", help="folder to write (created if needed)")
    ap.add_argument("--format", choices=("hf", "open_clip"), default="hf")
    ap.add_argument("--vision", choices=("vit", "resnet"), default="vit")
    ap.add_argument("--dtype", choices=("F32", "F16", "BF16"), default="F32")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gelu", action="store_true", help="exact GELU instead of QuickGELU")
    ap.add_argument("--dim", action="append", default=[], metavar="KEY=VALUE",
                    help="override a dimension (%s)" % ", ".join(sorted(DEFAULT_DIMS)))
    args = ap.parse_args(argv)
    dims = {}
    for kv in args.dim:
        if "=" not in kv:
            ap.error("--dim takes KEY=VALUE")
        k, v = kv.split("=", 1)
        dims[k] = _parse_value(v)
    state = make_model(args.out, fmt=args.format, vision=args.vision, dtype=args.dtype,
                       seed=args.seed, quick_gelu=not args.gelu, **dims)
    n = sum(int(t.numel()) for k, t in state.items() if t.is_floating_point())
    print(json.dumps({"path": args.out, "format": args.format, "vision": args.vision,
                      "dtype": args.dtype, "tensors": len(state), "parameters": n}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
