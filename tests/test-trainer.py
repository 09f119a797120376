#!/usr/bin/python3
"""tools/train-demo-model away from its sources, on made-up emoji.

A data pack written by --write-pack must give back what went in; a tiny
run from that pack alone (no npm, no image files left), with --epochs-within
choosing its length, must export a model folder that the engine loads and
scores exactly as the trainer's own model does; a run with --init from that
folder and a zero learning rate must export the very same weights, and one
whose settings do not fit the folder must be refused; a file that is not a
pack must be refused with a message.  The captions a step draws from the
tokenized caption table must be those that drawing caption texts and
tokenizing them would give.
"""
import importlib.machinery
import importlib.util
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image, ImageDraw

HERE = os.environ.get("CLIPSCOPE_TESTS_DIR", os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(HERE, "..", "tools", "train-demo-model")
CLI = os.environ.get("CLIPSCOPE_CLI", "_build/app/clipscope")
VOCAB = 700

torch.set_num_threads(1)
loader = importlib.machinery.SourceFileLoader("train_demo_model", TOOL)
spec = importlib.util.spec_from_loader("train_demo_model", loader)
tdm = importlib.util.module_from_spec(spec)
loader.exec_module(tdm)

failures = []


def check(name, cond, detail=""):
    print(("ok     " if cond else "FAILED ") + name + ("" if cond else ": " + detail))
    if not cond:
        failures.append(name)


def made_up_data(root):
    """gather()'s result for the 20 common concepts and 6 others, each
    drawn as a coloured shape, a little differently in each style."""
    concepts = [{"hex": h, "hexcode": h, "label": lab, "tags": [lab + "s", "thing"],
                 "group": "objects", "subgroup": "things", "shortcodes": [lab + " face"]}
                for lab, h in tdm.COMMON]
    concepts += [{"hex": "E00%d" % i, "hexcode": "E00%d" % i, "label": "gadget %d" % i,
                  "tags": [], "group": "objects", "subgroup": "", "shortcodes": []}
                 for i in range(6)]
    heldout = {"E004", "E005"}
    styles = {}
    for si, st in enumerate(tdm.TRAIN_STYLES + ["openmoji"]):
        os.makedirs(os.path.join(root, st))
        styles[st] = {}
        for ci, c in enumerate(concepts):
            im = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
            colour = ((ci * 53) % 256, (ci * 97 + 40) % 256, (ci * 29 + 90) % 256, 255)
            box = (8 + si, 8 + ci % 7, 56 - si, 56 - ci % 5)
            draw = ImageDraw.Draw(im)
            (draw.ellipse if ci % 2 else draw.rectangle)(box, fill=colour, outline=(0, 0, 0, 255))
            path = os.path.join(root, st, c["hex"] + ".png")
            im.save(path)
            styles[st][c["hex"]] = path
    items = [(styles[st][c["hex"]], i) for st in tdm.TRAIN_STYLES
             for i, c in enumerate(concepts) if c["hex"] not in heldout]
    texts = [t for c in concepts if c["hex"] not in heldout
             for w, t in tdm.captions_for(c) for _ in range(w)]
    vocab, merges = tdm.learn_bpe(texts, VOCAB)
    return {"concepts": concepts, "heldout": heldout, "styles": styles, "items": items,
            "pixels": np.stack([tdm.load_rgba(p) for p, _ in items]),
            "vocab": vocab, "merges": [list(m) for m in merges]}


def test_pack(d, pack):
    tdm.write_pack(pack, d)
    eval_paths = {p for ev in tdm.build_evals(d["concepts"], d["styles"], d["heldout"])
                  for p in ev.paths}
    tdm.PACKED_IMAGES.clear()
    back = tdm.read_pack(pack)
    for k in ("concepts", "heldout", "styles", "items", "vocab", "merges"):
        check("pack keeps %s" % k, back[k] == d[k], "%r…" % str(back[k])[:80])
    check("pack keeps the training pixels", np.array_equal(back["pixels"], d["pixels"]))
    same = all(open(p, "rb").read() == tdm.PACKED_IMAGES.get(p) for p in eval_paths)
    check("pack holds every evaluation image (%d), byte for byte" % len(eval_paths),
          same and set(tdm.PACKED_IMAGES) == eval_paths)


# a tiny architecture, for runs of a few seconds
TINY = ["--batch-size", "16", "--vision-width", "64", "--vision-layers", "1",
        "--text-width", "64", "--text-layers", "1", "--embed-dim", "32", "--threads", "1"]


def test_caption_table(d):
    """CaptionTable against drawing texts as captions_for()/tag_captions()
    list them and tokenizing each batch with batch_tokens()."""
    tok = tdm.Tokenizer(d["vocab"], [tuple(m) for m in d["merges"]])
    table = tdm.CaptionTable(tok, d["concepts"])
    conc = [i % len(d["concepts"]) for i in range(300)]
    rng_a, rng_b = random.Random(5), random.Random(5)
    rows = table.draw(conc, rng_a)
    texts = []
    for ci in conc:
        c = d["concepts"][ci]
        tags = tdm.tag_captions(c)
        if tags and rng_b.random() < 0.1:
            t = rng_b.choice(tags)
            texts.append(rng_b.choice([t, "a %s emoji" % t]))
        else:
            caps = tdm.captions_for(c)
            texts.append(rng_b.choices([t for _, t in caps], weights=[w for w, _ in caps])[0])
    ids, eot = table.tokens(rows)
    want_ids, want_eot = tdm.batch_tokens(tok, texts, 77)
    check("the caption table draws and tokenizes captions as the texts would be",
          torch.equal(ids, want_ids) and torch.equal(eot, want_eot),
          "%s vs %s" % (ids.shape, want_ids.shape))
    tag_rows = {r for pairs in table.tags for pair in pairs for r in pair}
    check("tag captions were among the draws", any(r in tag_rows for r in rows), repr(texts[:10]))


def run_tool(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True,
                          timeout=600)


def test_train_from_pack(pack, tmp, image, vocab_size):
    out = os.path.join(tmp, "model")
    p = run_tool("--out", out, "--work", os.path.join(tmp, "work"), "--pack", pack,
                 "--epochs-within", "3", "--warmup-steps", "5", *TINY,
                 "--vocab-size", str(vocab_size), "--outline-prob", "0.5", "--flat-prob", "0.5",
                 "--eval-every", "1000", "--save-every", "1000")
    check("a run from the pack alone succeeds", p.returncode == 0, p.stderr[-2000:])
    if p.returncode != 0:
        return
    check("--epochs-within reports its choice", "epochs fit in 3 s" in p.stdout,
          p.stdout[-500:])
    readme = open(os.path.join(out, "README.md"), encoding="utf-8").read()
    cmd = [line.strip() for line in readme.splitlines()
           if line.strip().startswith("tools/train-demo-model")]
    check("the README's command names the epochs chosen",
          len(cmd) == 1 and " --epochs " in cmd[0] and "--epochs-within" not in cmd[0]
          and "--pack" not in cmd[0], repr(cmd))
    check("the checkpoint was written after the last epoch",
          os.path.exists(os.path.join(tmp, "work", "run-seed0", "checkpoint.pt")))

    # The engine against the trainer's own model, on the exported f16 weights.
    cfg = json.load(open(os.path.join(out, "config.json")))
    model = tdm.CLIP(cfg)
    model.load_state_dict(tdm.read_safetensors(os.path.join(out, "model.safetensors")))
    model.eval()
    tok = tdm.Tokenizer(list(json.load(open(os.path.join(out, "vocab.json")))),
                        [tuple(line.split()) for line in
                         open(os.path.join(out, "merges.txt"), encoding="utf-8").read()
                         .splitlines()[1:]])
    labels = ["dog", "cat", "gadget 3"]
    with torch.no_grad():
        fi = torch.nn.functional.normalize(
            model.encode_image(tdm.preprocess(image, 64)[None]), dim=-1)[0]
        ids, eot = tdm.batch_tokens(tok, [tdm.EVAL_TEMPLATE.format(x) for x in labels], 77)
        ft = torch.nn.functional.normalize(model.encode_text(ids, eot), dim=-1)
        want = (ft @ fi).tolist()
    q = subprocess.run([CLI, "classify", "--backend", "cpu", "--model", out,
                        "-t", tdm.EVAL_TEMPLATE] + [a for x in labels for a in ("-l", x)]
                       + [image], capture_output=True, text=True, timeout=300)
    check("the engine loads the exported folder", q.returncode == 0, q.stderr[-1000:])
    if q.returncode == 0:
        got = json.loads(q.stdout)["images"][0]["similarity"]
        err = max(abs(a - b) for a, b in zip(got, want))
        check("the engine's cosines match the trainer's model (max error %.2g)" % err,
              err < 1e-3, "engine %s, trainer %s" % (got, want))
    # The trainer evaluates on what the engine feeds the exported model:
    # the image is transparent around its shape, black beneath.
    npy = os.path.join(tmp, "dog.npy")
    q = subprocess.run([CLI, "preprocess", "--model", out, image, "--npy", npy],
                       capture_output=True, text=True, timeout=300)
    if q.returncode == 0:
        err = float(np.abs(np.load(npy) - tdm.preprocess(image, 64).numpy()).max())
    check("the trainer preprocesses a transparent image as the engine does",
          q.returncode == 0 and err < 1e-5, q.stderr[-1000:] if q.returncode else "%.3g" % err)


def test_init(pack, tmp, vocab_size):
    """--init from the folder test_train_from_pack() exported."""
    src = os.path.join(tmp, "model")
    out = os.path.join(tmp, "again")
    common = ["--pack", pack, "--init", src, "--epochs", "1", "--steps-per-epoch", "2",
              "--vocab-size", str(vocab_size), "--eval-every", "1000", "--eval-limit", "8"]
    p = run_tool("--out", out, "--work", os.path.join(tmp, "w3"), "--lr", "0", *TINY, *common)
    check("a run with --init succeeds", p.returncode == 0, p.stderr[-2000:])
    if p.returncode != 0:
        return
    # by value: a zero step turns a -0.0 into 0.0
    before = tdm.read_safetensors(os.path.join(src, "model.safetensors"))
    after = tdm.read_safetensors(os.path.join(out, "model.safetensors"))
    check("--init at a zero learning rate exports the weights it started from",
          before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before),
          str([k for k in before if not torch.equal(before[k], after.get(k))]))
    with open(os.path.join(src, "model.safetensors"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    readme = open(os.path.join(out, "README.md"), encoding="utf-8").read()
    check("the README names the weights it started from", digest in readme and "--init " in readme
          and "from scratch" not in readme, readme[:300])
    p = run_tool("--out", os.path.join(tmp, "never"), "--work", os.path.join(tmp, "w4"),
                 *TINY, "--vision-layers", "2", *common)
    check("--init from a folder of another architecture is refused with a message",
          p.returncode != 0 and "do not fit this model" in p.stderr
          and "Traceback" not in p.stderr, p.stderr[-500:])
    cut = os.path.join(tmp, "cut")
    shutil.copytree(src, cut)
    weights = os.path.join(cut, "model.safetensors")
    with open(weights, "rb") as f:
        blob = f.read()
    # Cut in the middle of the data, at a whole number of f16 values.
    start = 8 + struct.unpack_from("<Q", blob)[0]
    with open(weights, "wb") as f:
        f.write(blob[:start + (len(blob) - start) // 4 * 2])
    p = run_tool("--out", os.path.join(tmp, "never"), "--work", os.path.join(tmp, "w5"),
                 *TINY, *[cut if x == src else x for x in common])
    check("--init from a folder whose weights are cut short is refused with a message",
          p.returncode != 0 and "does not fit in the file" in p.stderr
          and "Traceback" not in p.stderr, p.stderr[-500:])


def test_not_a_pack(tmp):
    bad = os.path.join(tmp, "bad.npz")
    with open(bad, "wb") as f:
        f.write(b"PK\x03\x04 this is no pack")
    p = run_tool("--out", os.path.join(tmp, "never"), "--work", os.path.join(tmp, "w2"),
                 "--pack", bad)
    check("a file that is not a pack is refused with a message",
          p.returncode != 0 and "not a data pack" in p.stderr and "Traceback" not in p.stderr,
          p.stderr[-500:])


def main():
    tmp = tempfile.mkdtemp(prefix="clipscope-trainer-")
    try:
        images = os.path.join(tmp, "images")
        d = made_up_data(images)
        pack = os.path.join(tmp, "pack.npz")
        test_pack(d, pack)
        # An image to score, kept outside the folders the run must not need.
        image = os.path.join(tmp, "dog.png")
        shutil.copy(d["styles"]["openmoji"][tdm.COMMON[0][1]], image)
        shutil.rmtree(images)
        test_caption_table(d)
        test_train_from_pack(pack, tmp, image, len(d["vocab"]))
        test_init(pack, tmp, len(d["vocab"]))
        test_not_a_pack(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
