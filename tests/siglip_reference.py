#!/usr/bin/python3
"""Tiny random SigLIP checkpoints, and SigLIP written out in PyTorch.

make_model() writes a complete SigLIP (or SigLIP 2, fixed resolution)
folder from random weights: in the Hugging Face layout (config.json with
model_type "siglip", model.safetensors, preprocessor_config.json,
tokenizer_config.json and a SentencePiece model file) or in open_clip's
hub layout (open_clip_config.json with a timm SigLIP image tower,
open_clip_model.safetensors and a tokenizer.json), stored as float32 or
float16. It returns the weights as stored (rounded to the file's dtype),
under Hugging Face's names whatever the layout, and the configuration the
reference needs.

The reference follows ../shared/specs/model-families.md, section A:

  image  squash resize (Pillow, bicubic or bilinear), [−1, 1];
         patch convolution with a bias, positions, no class token, no
         pre-norm; pre-LN blocks; post-LN; multi-head attention pooling
         (probe query, packed q/k/v, out_proj, then h + mlp(LN(h)), no
         residual from the probe); no projection;
  text   token + position embeddings, bidirectional blocks without a
         padding mask over the whole context, final LN, last position,
         head Linear with a bias (or the identity);
  score  sigmoid(exp(logit_scale) · cos + logit_bias) per pair.

Activations: Hugging Face's towers use GELU's tanh form everywhere. For
open_clip's layout the reference is what open_clip computes: timm's image
tower uses exact GELU, open_clip's text tower exact GELU too unless the
config's act_kwargs ask for "tanh" (SigLIP 2). LayerNorm eps is 1e-6
throughout.
"""

import json
import math
import os
import shutil
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tinyclip  # noqa: E402
from clip_reference import attention, gelu_erf, layer_norm, linear  # noqa: E402

EPS = 1e-6
RESAMPLE = {"bicubic": 3, "bilinear": 2}

DEFAULT_DIMS = dict(width=48, heads=3, mlp=88, vision_layers=2, text_layers=2,
                    image_size=32, patch_size=8, context_length=16)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


# ----------------------------------------------------------------- weights

def _block(init, s, p, w, m):
    for ln in ("layer_norm1", "layer_norm2"):
        s[p + ln + ".weight"], s[p + ln + ".bias"] = init.ln(w)
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        s[p + "self_attn.%s.weight" % name] = init.weight((w, w), w)
        s[p + "self_attn.%s.bias" % name] = init.bias(w)
    s[p + "mlp.fc1.weight"] = init.weight((m, w), w)
    s[p + "mlp.fc1.bias"] = init.bias(m)
    s[p + "mlp.fc2.weight"] = init.weight((w, m), m)
    s[p + "mlp.fc2.bias"] = init.bias(w)


def random_state(d, vocab_size, seed, head=True):
    """Hugging Face's names and shapes (modeling_siglip.py)."""
    init = tinyclip._Init(seed, None)
    w, m, p, S = d["width"], d["mlp"], d["patch_size"], d["image_size"]
    n = (S // p) ** 2
    s = {}
    s["vision_model.embeddings.patch_embedding.weight"] = init.weight((w, 3, p, p), 3 * p * p)
    s["vision_model.embeddings.patch_embedding.bias"] = init.bias(w, 0.2)
    s["vision_model.embeddings.position_embedding.weight"] = init.normal((n, w), 0.3)
    for i in range(d["vision_layers"]):
        _block(init, s, "vision_model.encoder.layers.%d." % i, w, m)
    s["vision_model.post_layernorm.weight"], s["vision_model.post_layernorm.bias"] = init.ln(w)
    s["vision_model.head.probe"] = init.normal((1, 1, w), 1.0)
    s["vision_model.head.attention.in_proj_weight"] = init.weight((3 * w, w), w)
    s["vision_model.head.attention.in_proj_bias"] = init.bias(3 * w)
    s["vision_model.head.attention.out_proj.weight"] = init.weight((w, w), w)
    s["vision_model.head.attention.out_proj.bias"] = init.bias(w)
    s["vision_model.head.layernorm.weight"], s["vision_model.head.layernorm.bias"] = init.ln(w)
    s["vision_model.head.mlp.fc1.weight"] = init.weight((m, w), w)
    s["vision_model.head.mlp.fc1.bias"] = init.bias(m)
    s["vision_model.head.mlp.fc2.weight"] = init.weight((w, m), m)
    s["vision_model.head.mlp.fc2.bias"] = init.bias(w)
    s["text_model.embeddings.token_embedding.weight"] = init.normal((vocab_size, w), 1.0)
    s["text_model.embeddings.position_embedding.weight"] = init.normal((d["context_length"], w), 0.3)
    for i in range(d["text_layers"]):
        _block(init, s, "text_model.encoder.layers.%d." % i, w, m)
    s["text_model.final_layer_norm.weight"], s["text_model.final_layer_norm.bias"] = init.ln(w)
    if head:
        s["text_model.head.weight"] = init.weight((w, w), w)
        s["text_model.head.bias"] = init.bias(w)
    s["logit_scale"] = np.array([math.log(10.0) + 0.3], np.float32)
    s["logit_bias"] = np.array([-4.5], np.float32)
    return s


def _open_clip_block(s, hf, oc, timm):
    """One block's tensors under open_clip's (text) or timm's (image) names."""
    out = {}
    if timm:
        names = {"layer_norm1": "norm1", "layer_norm2": "norm2", "self_attn.out_proj": "attn.proj",
                 "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"}
        qkv = "attn.qkv"
    else:
        names = {"layer_norm1": "ln_1", "layer_norm2": "ln_2", "self_attn.out_proj": "attn.out_proj",
                 "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj"}
        qkv = None
    for a, b in names.items():
        for k in ("weight", "bias"):
            out["%s%s.%s" % (oc, b, k)] = s["%s%s.%s" % (hf, a, k)]
    for k in ("weight", "bias"):
        packed = np.concatenate([s["%sself_attn.%s_proj.%s" % (hf, x, k)] for x in "qkv"])
        out[("%s%s.%s" % (oc, qkv, k)) if timm else "%sattn.in_proj_%s" % (oc, k)] = packed
    return out


def to_open_clip(s, d):
    """open_clip's hub names: timm's VisionTransformer under visual.trunk,
    open_clip's TextTransformer under text."""
    w = d["width"]
    o = {}
    o["visual.trunk.patch_embed.proj.weight"] = s["vision_model.embeddings.patch_embedding.weight"]
    o["visual.trunk.patch_embed.proj.bias"] = s["vision_model.embeddings.patch_embedding.bias"]
    o["visual.trunk.pos_embed"] = s["vision_model.embeddings.position_embedding.weight"][None]
    for i in range(d["vision_layers"]):
        o.update(_open_clip_block(s, "vision_model.encoder.layers.%d." % i,
                                  "visual.trunk.blocks.%d." % i, True))
    o["visual.trunk.norm.weight"] = s["vision_model.post_layernorm.weight"]
    o["visual.trunk.norm.bias"] = s["vision_model.post_layernorm.bias"]
    h, a = "vision_model.head.", "visual.trunk.attn_pool."
    o[a + "latent"] = s[h + "probe"]
    o[a + "q.weight"] = s[h + "attention.in_proj_weight"][:w]
    o[a + "q.bias"] = s[h + "attention.in_proj_bias"][:w]
    o[a + "kv.weight"] = s[h + "attention.in_proj_weight"][w:]
    o[a + "kv.bias"] = s[h + "attention.in_proj_bias"][w:]
    for x, y in (("attention.out_proj", "proj"), ("layernorm", "norm"), ("mlp.fc1", "mlp.fc1"),
                 ("mlp.fc2", "mlp.fc2")):
        o[a + y + ".weight"] = s[h + x + ".weight"]
        o[a + y + ".bias"] = s[h + x + ".bias"]
    o["text.token_embedding.weight"] = s["text_model.embeddings.token_embedding.weight"]
    o["text.positional_embedding"] = s["text_model.embeddings.position_embedding.weight"]
    for i in range(d["text_layers"]):
        o.update(_open_clip_block(s, "text_model.encoder.layers.%d." % i,
                                  "text.transformer.resblocks.%d." % i, False))
    o["text.ln_final.weight"] = s["text_model.final_layer_norm.weight"]
    o["text.ln_final.bias"] = s["text_model.final_layer_norm.bias"]
    if "text_model.head.weight" in s:
        o["text.text_projection.weight"] = s["text_model.head.weight"]
        o["text.text_projection.bias"] = s["text_model.head.bias"]
    o["logit_scale"] = s["logit_scale"].reshape(())
    o["logit_bias"] = s["logit_bias"].reshape(())
    return o


# ------------------------------------------------------------------ folders

def make_model(dirpath, layout="hf", dtype="F32", seed=0, version=1, tokenizer=None,
               tokenizer_json=None, vocab_size=None, resample=None, head=True, **dims):
    """Writes a model folder; returns (state, cfg).

    @tokenizer: a SentencePiece .model file (spiece.model for version 1,
    tokenizer.model for 2) copied into a Hugging Face folder;
    @tokenizer_json: a tokenizer.json, the only tokenizer file of an
    open_clip folder; @vocab_size: the token embedding's rows.
    """
    d = dict(DEFAULT_DIMS, **dims)
    resample = resample or ("bicubic" if version == 1 else "bilinear")
    os.makedirs(dirpath, exist_ok=True)
    state = random_state(d, vocab_size, seed, head)
    state = {k: tinyclip.round_to_dtype(v, dtype) for k, v in state.items()}
    # The scalars stay float32, as the checkpoints keep them.
    dtypes = {k: ("F32" if k.startswith("logit_") else dtype) for k in state}
    w = d["width"]
    if layout == "hf":
        tinyclip.write_safetensors(os.path.join(dirpath, "model.safetensors"), state, dtypes)
        config = {
            "architectures": ["SiglipModel"], "model_type": "siglip",
            "text_config": {"model_type": "siglip_text_model", "hidden_size": w,
                            "intermediate_size": d["mlp"], "num_attention_heads": d["heads"],
                            "num_hidden_layers": d["text_layers"], "vocab_size": vocab_size,
                            "max_position_embeddings": d["context_length"]},
            "vision_config": {"model_type": "siglip_vision_model", "hidden_size": w,
                              "intermediate_size": d["mlp"], "num_attention_heads": d["heads"],
                              "num_hidden_layers": d["vision_layers"], "patch_size": d["patch_size"],
                              "image_size": d["image_size"]},
        }
        if not head:
            config["text_config"]["no_head"] = True
        with open(os.path.join(dirpath, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
        pre = {"do_normalize": True, "do_rescale": True, "do_resize": True,
               "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
               "resample": RESAMPLE[resample], "rescale_factor": 1 / 255,
               "size": {"height": d["image_size"], "width": d["image_size"]}}
        with open(os.path.join(dirpath, "preprocessor_config.json"), "w") as f:
            json.dump(pre, f, indent=2)
        tok_cfg = ({"tokenizer_class": "SiglipTokenizer", "do_lower_case": True, "pad_token": "</s>",
                    "eos_token": "</s>", "unk_token": "<unk>",
                    "model_max_length": d["context_length"]} if version == 1 else
                   {"tokenizer_class": "GemmaTokenizer", "add_bos_token": False, "add_eos_token": True,
                    "pad_token": "<pad>", "eos_token": "<eos>", "model_max_length": d["context_length"]})
        with open(os.path.join(dirpath, "tokenizer_config.json"), "w") as f:
            json.dump(tok_cfg, f, indent=2)
        if tokenizer:
            shutil.copy(tokenizer, os.path.join(dirpath, "spiece.model" if version == 1
                                                else "tokenizer.model"))
        text_tanh = vision_tanh = True
    else:
        stored = to_open_clip(state, d)
        tinyclip.write_safetensors(os.path.join(dirpath, "open_clip_model.safetensors"), stored,
                                   {k: ("F32" if k.startswith("logit_") else dtype) for k in stored})
        text_cfg = {"context_length": d["context_length"], "vocab_size": vocab_size,
                    "hf_tokenizer_name": "timm/ViT-B-16-SigLIP", "tokenizer_kwargs": {"clean": "canonicalize"},
                    "width": w, "heads": d["heads"], "layers": d["text_layers"],
                    "mlp_ratio": d["mlp"] / w, "no_causal_mask": True, "proj_bias": True,
                    "pool_type": "last", "norm_kwargs": {"eps": 1e-6}}
        if version == 2:
            text_cfg["act_kwargs"] = {"approximate": "tanh"}
        if not head:
            text_cfg["proj_type"] = "none"
        # timm's name says base/16 at 224; the keys beside it describe this
        # small tower (open_clip's own vision_cfg keys).
        vision_cfg = {"image_size": d["image_size"],
                      "timm_model_name": "vit_base_patch16_siglip%s_224" % ("2" if version == 2 else ""),
                      "timm_model_pretrained": False, "timm_pool": "map", "timm_proj": "none",
                      "width": w, "layers": d["vision_layers"], "head_width": w // d["heads"],
                      "mlp_ratio": d["mlp"] / w, "patch_size": d["patch_size"]}
        config = {"model_cfg": {"embed_dim": w, "init_logit_bias": -10, "custom_text": True,
                                "vision_cfg": vision_cfg, "text_cfg": text_cfg},
                  "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
                                     "interpolation": resample, "resize_mode": "squash"}}
        with open(os.path.join(dirpath, "open_clip_config.json"), "w") as f:
            json.dump(config, f, indent=2)
        if tokenizer_json:
            shutil.copy(tokenizer_json, os.path.join(dirpath, "tokenizer.json"))
        text_tanh, vision_tanh = version == 2, False
    cfg = dict(d, version=version, resample=resample, text_tanh=text_tanh, vision_tanh=vision_tanh,
               layout=layout)
    return {k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in state.items()}, cfg


# ---------------------------------------------------------------- forward

def _canon(state, dtype):
    return {k: v.to(dtype) for k, v in state.items()}


def _blocks(s, prefix, n, x, heads, act):
    for i in range(n):
        p = "%s.%d." % (prefix, i)
        a = "self_attn."
        h = layer_norm(x, s[p + "layer_norm1.weight"], s[p + "layer_norm1.bias"], EPS)
        x = x + attention(h, h, s[p + a + "q_proj.weight"], s[p + a + "q_proj.bias"],
                          s[p + a + "k_proj.weight"], s[p + a + "k_proj.bias"],
                          s[p + a + "v_proj.weight"], s[p + a + "v_proj.bias"],
                          s[p + a + "out_proj.weight"], s[p + a + "out_proj.bias"], heads)
        h = layer_norm(x, s[p + "layer_norm2.weight"], s[p + "layer_norm2.bias"], EPS)
        h = act(linear(h, s[p + "mlp.fc1.weight"], s[p + "mlp.fc1.bias"]))
        x = x + linear(h, s[p + "mlp.fc2.weight"], s[p + "mlp.fc2.bias"])
    return x


def normalise(x):
    return x / x.norm(dim=-1, keepdim=True)


def _image_tokens(s, cfg, pixels, dtype):
    """The post-normed tokens of the last block, [N, n_patches, width]."""
    x = torch.as_tensor(np.asarray(pixels), dtype=dtype)
    act = gelu_tanh if cfg["vision_tanh"] else gelu_erf
    x = torch.nn.functional.conv2d(x, s["vision_model.embeddings.patch_embedding.weight"],
                                   s["vision_model.embeddings.patch_embedding.bias"],
                                   stride=cfg["patch_size"])
    x = x.flatten(2).transpose(1, 2)
    x = x + s["vision_model.embeddings.position_embedding.weight"]
    x = _blocks(s, "vision_model.encoder.layers", cfg["vision_layers"], x, cfg["heads"], act)
    return layer_norm(x, s["vision_model.post_layernorm.weight"], s["vision_model.post_layernorm.bias"], EPS)


def _head_mlp(s, cfg, y):
    """y + mlp(LN(y)): the end of the pooling head."""
    h = "vision_model.head."
    act = gelu_tanh if cfg["vision_tanh"] else gelu_erf
    z = layer_norm(y, s[h + "layernorm.weight"], s[h + "layernorm.bias"], EPS)
    return y + linear(act(linear(z, s[h + "mlp.fc1.weight"], s[h + "mlp.fc1.bias"])),
                      s[h + "mlp.fc2.weight"], s[h + "mlp.fc2.bias"])


def encode_image(state, cfg, pixels, dtype=torch.float64):
    """[N, 3, S, S] pixels → [N, width], L2-normalised."""
    s = _canon(state, dtype)
    w = cfg["width"]
    x = _image_tokens(s, cfg, pixels, dtype)
    h = "vision_model.head."
    wi, bi = s[h + "attention.in_proj_weight"], s[h + "attention.in_proj_bias"]
    probe = s[h + "probe"].expand(x.shape[0], 1, w)
    y = attention(probe, x, wi[:w], bi[:w], wi[w:2 * w], bi[w:2 * w], wi[2 * w:], bi[2 * w:],
                  s[h + "attention.out_proj.weight"], s[h + "attention.out_proj.bias"], cfg["heads"])
    return normalise(_head_mlp(s, cfg, y)[:, 0])


def spatial_embeddings(state, cfg, pixels, dtype=torch.float64):
    """[N, n_patches, width], unit rows: Clipscope's map of a SigLIP image.
    The head has one query for the whole image, so each cell takes the
    head's value path, as if the probe attended to that token alone."""
    s = _canon(state, dtype)
    w = cfg["width"]
    h = "vision_model.head."
    wi, bi = s[h + "attention.in_proj_weight"], s[h + "attention.in_proj_bias"]
    x = _image_tokens(s, cfg, pixels, dtype)
    y = linear(linear(x, wi[2 * w:], bi[2 * w:]), s[h + "attention.out_proj.weight"],
               s[h + "attention.out_proj.bias"])
    return normalise(_head_mlp(s, cfg, y))


def encode_text(state, cfg, ids, dtype=torch.float64):
    """[N, context_length] ids → [N, width], L2-normalised."""
    s = _canon(state, dtype)
    ids = torch.as_tensor(np.asarray(ids, np.int64))
    act = gelu_tanh if cfg["text_tanh"] else gelu_erf
    x = s["text_model.embeddings.token_embedding.weight"][ids]
    x = x + s["text_model.embeddings.position_embedding.weight"][:ids.shape[1]]
    x = _blocks(s, "text_model.encoder.layers", cfg["text_layers"], x, cfg["heads"], act)
    x = layer_norm(x, s["text_model.final_layer_norm.weight"], s["text_model.final_layer_norm.bias"], EPS)
    x = x[:, -1]
    if "text_model.head.weight" in s:
        x = linear(x, s["text_model.head.weight"], s["text_model.head.bias"])
    return normalise(x)


def probabilities(state, images, texts):
    """sigmoid(exp(logit_scale) · cos + logit_bias), [n_images, n_texts]."""
    scale = math.exp(float(state["logit_scale"].reshape(-1)[0]))
    bias = float(state["logit_bias"].reshape(-1)[0])
    return torch.sigmoid(torch.as_tensor(images) @ torch.as_tensor(texts).T * scale + bias)


def preprocess(path, cfg):
    """Pillow's resize straight to S × S, then [−1, 1], as float32."""
    S = cfg["image_size"]
    with Image.open(path) as im:
        im = im.convert("RGB").resize((S, S), RESAMPLE[cfg["resample"]])
    x = np.asarray(im, dtype=np.float32) / np.float32(255.0)
    x = (x - np.float32(0.5)) / np.float32(0.5)
    return np.ascontiguousarray(x.transpose(2, 0, 1))
