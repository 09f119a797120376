#!/usr/bin/python3
"""Tiny random Chinese-CLIP checkpoints and a float64 PyTorch reference.

make_model() writes a model folder in the Hugging Face layout of
OFA-Sys/chinese-clip-vit-base-patch16: config.json with model_type
"chinese_clip", preprocessor_config.json (squash resize, no centre crop),
a vocab.txt and model.safetensors holding CLIP's ViT under
vision_model.* / visual_projection and a BERT under text_model.* with
text_projection (no bias), plus the int64 buffers (position_ids,
token_type_ids) that checkpoints converted from pytorch_model.bin carry.

The reference is written from the BERT and CLIP forward passes, not from
transformers: word + position + token-type-0 embeddings, LayerNorm, post-LN
blocks with exact GELU and padded keys masked, the first token projected;
the image side is tests/clip_reference.py's ViT. Token ids come from the
BERT rules of tests/test-wordpiece.py.

Command line (tools/make-tiny-model --family chinese_clip runs it):
    chinese_clip_reference.py OUT_DIR [KEY=VALUE]… [--shape b16] [--dtype F32|F16|BF16] [--seed N]
"""

import importlib.util
import json
import math
import os
import random
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import tinyclip  # noqa: E402

__all__ = ["make_model", "make_vocab", "tokenize", "encode_text", "encode_image",
           "preprocess_image", "DEFAULT_DIMS", "CONTEXT_LENGTH"]

CONTEXT_LENGTH = 52


def _wordpiece_rules():
    spec = importlib.util.spec_from_file_location("wordpiece_rules",
                                                  os.path.join(HERE, "test-wordpiece.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_rules = _wordpiece_rules()


# ----------------------------------------------------------------- vocab

def make_vocab(path, seed=0, size=None):
    """Writes a vocab.txt of BERT's special pieces, ASCII letters, digits
    and punctuation with their "##" forms, a sample of CJK ideographs,
    full-width punctuation and a few words and "##" pieces; padded with
    [unusedN] lines to @size when given. Returns piece → id."""
    rng = random.Random(seed)
    pieces = ["[PAD]", "[unused1]", "[unused2]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    for c in (chr(i) for i in range(33, 127)):
        pieces += [c, "##" + c]
    pieces += [chr(cp) for cp in range(0x4E00, 0x9FA6) if rng.random() < 0.01]
    pieces += list("猫狗车鸟照片一张的图红色蓝天北京上海中国人") + list("，。！？、：；（）")
    pieces += ["photo", "##s", "cat", "##ing", "the", "of", "a", "dog", "hello", "world",
               "cafe", "##fe", "un", "##believ", "##able", "red", "car", "bird", "clip"]
    seen, unique = set(), []
    for p in pieces:
        if p not in seen:
            seen.add(p)
            unique.append(p)
    if size is not None:
        if size < len(unique):
            raise ValueError("a vocabulary of %d pieces is too small" % size)
        unique += ["[unused%d]" % i for i in range(3, 3 + size - len(unique))]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(unique) + "\n")
    return {p: i for i, p in enumerate(unique)}


def tokenize(text, vocab, context_length=CONTEXT_LENGTH):
    """[CLS] pieces [SEP], cut to and zero-padded to @context_length."""
    return _rules.frame(_rules.encode(text, vocab), vocab, context_length)


# ------------------------------------------------------------------ model

# CLIP's ViT, sized as tinyclip's; then BERT.
VISION_KEYS = ("image_size", "patch_size", "vision_width", "vision_layers", "vision_heads",
               "vision_mlp", "embed_dim")
DEFAULT_DIMS = dict({k: tinyclip.DEFAULT_DIMS[k] for k in VISION_KEYS},
                    text_width=32, text_heads=4, text_layers=2,
                    text_mlp=None,           # 4 × width
                    max_positions=64,        # BERT's position table (512 in the real models)
                    type_vocab_size=2,
                    vocab_size=None)         # None: the tiny vocabulary's own size


def _bert_state(init, d, V):
    W, M = d["text_width"], d["text_mlp"]
    p = "text_model."
    sd = {
        p + "embeddings.word_embeddings.weight": init.normal((V, W), 0.5),
        p + "embeddings.position_embeddings.weight": init.normal((d["max_positions"], W), 0.3),
        p + "embeddings.token_type_embeddings.weight": init.normal((d["type_vocab_size"], W), 0.5),
        p + "embeddings.position_ids": np.arange(d["max_positions"], dtype=np.int64)[None],
        p + "embeddings.token_type_ids": np.zeros((1, d["max_positions"]), dtype=np.int64),
    }
    sd[p + "embeddings.LayerNorm.weight"], sd[p + "embeddings.LayerNorm.bias"] = init.ln(W)
    for i in range(d["text_layers"]):
        b = "%sencoder.layer.%d." % (p, i)
        for n in ("query", "key", "value"):
            sd[b + "attention.self.%s.weight" % n] = init.weight((W, W), W)
            sd[b + "attention.self.%s.bias" % n] = init.bias(W)
        sd[b + "attention.output.dense.weight"] = init.weight((W, W), W)
        sd[b + "attention.output.dense.bias"] = init.bias(W)
        sd[b + "attention.output.LayerNorm.weight"], sd[b + "attention.output.LayerNorm.bias"] = init.ln(W)
        sd[b + "intermediate.dense.weight"] = init.weight((M, W), W)
        sd[b + "intermediate.dense.bias"] = init.bias(M)
        sd[b + "output.dense.weight"] = init.weight((W, M), M)
        sd[b + "output.dense.bias"] = init.bias(W)
        sd[b + "output.LayerNorm.weight"], sd[b + "output.LayerNorm.bias"] = init.ln(W)
    sd["text_projection.weight"] = init.weight((d["embed_dim"], W), W)
    return sd


def _clip_vision(dirpath, dtype, seed, d):
    """A tiny CLIP from tinyclip, whose image tower Chinese-CLIP's is: its
    vision_config, its ViT's stored values under Hugging Face's names and
    under OpenAI's ("visual.*", for clip_reference)."""
    import clip_reference as ref

    tiny = tinyclip.make_model(dirpath, fmt="hf", vision="vit", dtype=dtype, seed=seed,
                               text_layers=0, **{k: d[k] for k in VISION_KEYS})
    with open(os.path.join(dirpath, "config.json")) as f:
        vision_config = json.load(f)["vision_config"]
    for name in ("vocab.json", "merges.txt"):
        os.remove(os.path.join(dirpath, name))
    hf = {k: v.numpy() for k, v in tiny.items()
          if k.startswith(("vision_model.", "visual_projection"))}
    openai = {k: v for k, v in ref.canonical_state(tiny, tiny["logit_scale"].dtype).items()
              if k.startswith("visual.")}
    return dict(vision_config, model_type="chinese_clip_vision_model"), hf, openai


def make_model(dirpath, dtype="F32", seed=0, **dims):
    """Writes a random tiny Chinese-CLIP into @dirpath; returns (state,
    vocab): state holds the stored values as torch float32 (integer buffers
    as they are) under the file's names plus the ViT under OpenAI's names
    ("visual.*", for clip_reference), vocab is piece → id."""
    import torch

    if dtype not in ("F32", "F16", "BF16"):
        raise ValueError("dtype must be F32, F16 or BF16")
    d = dict(DEFAULT_DIMS)
    unknown = set(dims) - set(d)
    if unknown:
        raise TypeError("unknown dimension(s): %s" % ", ".join(sorted(unknown)))
    d.update(dims)
    d["text_mlp"] = d["text_mlp"] or 4 * d["text_width"]

    vision_config, sd, openai_vision = _clip_vision(dirpath, dtype, seed, d)
    vocab = make_vocab(os.path.join(dirpath, "vocab.txt"), seed, d["vocab_size"])
    V = max(vocab.values()) + 1
    sd.update(_bert_state(tinyclip._Init(seed + 1000, None), d, V))
    sd["logit_scale"] = np.array(math.log(1 / 0.07), dtype=np.float32)

    dtypes, stored = {}, {}
    for name, arr in sd.items():
        if not np.issubdtype(arr.dtype, np.floating):
            dtypes[name], stored[name] = "I64", arr
        else:
            dtypes[name], stored[name] = dtype, tinyclip.round_to_dtype(arr, dtype)
    tinyclip.write_safetensors(os.path.join(dirpath, "model.safetensors"), stored, dtypes)

    S = d["image_size"]
    config = {
        "architectures": ["ChineseCLIPModel"],
        "model_type": "chinese_clip",
        "projection_dim": d["embed_dim"],
        "logit_scale_init_value": 2.6592,
        "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype],
        "text_config": {
            "model_type": "chinese_clip_text_model",
            "architectures": ["ChineseCLIPTextModel"],
            "vocab_size": V,
            "hidden_size": d["text_width"],
            "num_hidden_layers": d["text_layers"],
            "num_attention_heads": d["text_heads"],
            "intermediate_size": d["text_mlp"],
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": d["max_positions"],
            "type_vocab_size": d["type_vocab_size"],
            "initializer_range": 0.02,
            "layer_norm_eps": 1e-12,
            "pad_token_id": 0,
            "position_embedding_type": "absolute",
            "use_cache": True,
            "pooler_fc_size": 768,
            "directionality": "bidi",
        },
        "vision_config": vision_config,
    }
    with open(os.path.join(dirpath, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    pre = {
        "do_center_crop": False,
        "do_normalize": True,
        "do_resize": True,
        "feature_extractor_type": "ChineseCLIPFeatureExtractor",
        "image_mean": tinyclip.CLIP_MEAN,
        "image_std": tinyclip.CLIP_STD,
        "resample": 3,
        "size": {"height": S, "width": S},
    }
    with open(os.path.join(dirpath, "preprocessor_config.json"), "w") as f:
        json.dump(pre, f, indent=2)

    out = {k: torch.from_numpy(np.array(a, dtype=np.float32 if np.issubdtype(a.dtype, np.floating)
                                         else a.dtype))
           for k, a in stored.items()}
    out.update((k, v.float()) for k, v in openai_vision.items())
    return out, vocab


# -------------------------------------------------------------- reference

def encode_text(state, ids, heads, dtype=None, normalize=True):
    """ids: [N, L] token ids, zero-padded → [N, E] (unit rows by default).
    Padded keys are masked, as Chinese-CLIP's attn_mask = text != 0."""
    import torch
    import clip_reference as ref

    dtype = dtype or torch.float64
    s = {k: v.to(dtype) for k, v in state.items() if v.is_floating_point()}
    ids = torch.as_tensor(ids, dtype=torch.long)
    N, L = ids.shape
    p = "text_model."
    eps = 1e-12

    def ln(x, name):
        return ref.layer_norm(x, s[name + ".weight"], s[name + ".bias"], eps)

    mask = torch.zeros(N, 1, 1, L, dtype=dtype)
    mask[(ids == 0)[:, None, None, :]] = float("-inf")
    with torch.no_grad():
        x = (s[p + "embeddings.word_embeddings.weight"][ids]
             + s[p + "embeddings.token_type_embeddings.weight"][0]
             + s[p + "embeddings.position_embeddings.weight"][:L])
        x = ln(x, p + "embeddings.LayerNorm")
        i = 0
        while (p + "encoder.layer.%d.attention.self.query.weight" % i) in s:
            b = p + "encoder.layer.%d." % i
            a = ref.attention(x, x,
                              *[s[b + "attention.self.%s.%s" % (n, k)]
                                for n in ("query", "key", "value") for k in ("weight", "bias")],
                              s[b + "attention.output.dense.weight"], s[b + "attention.output.dense.bias"],
                              heads, mask)
            x = ln(x + a, b + "attention.output.LayerNorm")
            h = ref.gelu_erf(ref.linear(x, s[b + "intermediate.dense.weight"], s[b + "intermediate.dense.bias"]))
            x = ln(x + ref.linear(h, s[b + "output.dense.weight"], s[b + "output.dense.bias"]),
                   b + "output.LayerNorm")
            i += 1
        y = ref.linear(x[:, 0], s["text_projection.weight"])
    return ref.normalise(y) if normalize else y


def encode_image(state, pixels, heads, dtype=None, normalize=True):
    """pixels [N, 3, S, S] → [N, E]: CLIP's ViT, QuickGELU, eps 1e-5."""
    import torch
    import clip_reference as ref

    dtype = dtype or torch.float64
    s = {k: v.to(dtype) for k, v in state.items() if k.startswith("visual.")}
    cfg = {"vision": {"kind": "vit", "heads": heads, "quick_gelu": True, "ln_eps": 1e-5}}
    x = torch.as_tensor(np.asarray(pixels)).to(dtype)
    with torch.no_grad():
        y = ref._vit(s, cfg, x)
    return ref.normalise(y) if normalize else y


def preprocess_image(path, size, mean=tinyclip.CLIP_MEAN, std=tinyclip.CLIP_STD):
    """cn_clip's transform with PIL: squash to @size × @size (bicubic, no
    crop), RGB, scaled and normalised: [3, size, size] float64."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
    if im.size != (size, size):
        im = im.resize((size, size), Image.BICUBIC)
    a = np.asarray(im, dtype=np.float64) / 255.0
    a = (a - np.array(mean)) / np.array(std)
    return np.ascontiguousarray(a.transpose(2, 0, 1))


# -------------------------------------------------------------------- CLI

# OFA-Sys/chinese-clip-vit-base-patch16's sizes, for benchmarks.
SHAPES = {
    "b16": dict(image_size=224, patch_size=16, vision_width=768, vision_layers=12, vision_heads=12,
                text_width=768, text_heads=12, text_layers=12, max_positions=512,
                vocab_size=21128, embed_dim=512),
}


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description="Write a random Chinese-CLIP model folder.")
    ap.add_argument("out", help="folder to write (created if needed)")
    ap.add_argument("sizes", nargs="*", metavar="KEY=VALUE",
                    help="a size to change (%s)" % ", ".join(sorted(DEFAULT_DIMS)))
    ap.add_argument("--shape", choices=sorted(SHAPES), help="a real model's sizes")
    ap.add_argument("--dtype", choices=("F32", "F16", "BF16"), default="F32")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    dims = dict(SHAPES.get(args.shape, {}))
    for kv in args.sizes:
        key, eq, value = kv.partition("=")
        if not eq:
            ap.error("sizes are KEY=VALUE, not %r" % kv)
        dims[key] = tinyclip._parse_value(value)
    state, vocab = make_model(args.out, dtype=args.dtype, seed=args.seed, **dims)
    n = sum(int(t.numel()) for k, t in state.items()
            if t.is_floating_point() and not k.startswith("visual."))
    print(json.dumps({"path": args.out, "dtype": args.dtype, "vocab": len(vocab), "parameters": n}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
