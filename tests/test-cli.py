#!/usr/bin/python3
"""The `clipscope` command-line contract of DESIGN.md, end to end.

Exit statuses (0 success, 1 error, 2 usage), the one-line error format,
JSON shapes, option handling and hostile model folders and images, all
through the real binary on tiny models made by tinyclip.py.
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tinyclip  # noqa: E402

CLI = os.environ.get("CLIPSCOPE_CLI", "_build/app/clipscope")
SHARED = os.environ.get("CLIPSCOPE_SHARED_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
BPE = os.path.join(SHARED, "data", "clip-bpe", "bpe_simple_vocab_16e6.txt.gz")

failures = []


def run(*args, env=None):
    p = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120,
                       env=None if env is None else dict(os.environ, **env))
    return p.returncode, p.stdout, p.stderr


def check(name, cond, detail=""):
    print(("ok     " if cond else "FAILED ") + name + ("" if cond else ": " + detail))
    if not cond:
        failures.append(name)


def expect_error(name, args, status, needles=(), env=None):
    rc, out, err = run(*args, env=env)
    lines = [l for l in err.splitlines() if l.startswith("clipscope: error: ")]
    ok = rc == status and len(lines) == 1 and out == "" and all(n in lines[0] for n in needles)
    check(name, ok, "exit %d, stderr %r" % (rc, err))


def expect_json(name, args):
    rc, out, err = run(*args)
    if rc != 0:
        check(name, False, "exit %d, stderr %r" % (rc, err))
        return None
    try:
        return json.loads(out)
    except ValueError as e:
        check(name, False, "not JSON: %s" % e)
        return None


def write_png(path, w, h, seed=0):
    from PIL import Image
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)


def png_declaring(path, w, h):
    """A PNG whose header claims w × h pixels and holds almost nothing."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


def test_usage(model):
    rc, out, _ = run("--help")
    check("help lists commands", rc == 0 and "classify" in out and "bench" in out)
    for sub in ("info", "tokenize", "preprocess", "embed", "classify", "bench"):
        rc, out, _ = run(sub, "--help")
        check("%s --help" % sub, rc == 0 and "--model" in out, out)
    rc, _, _ = run()
    check("no command is a usage error", rc == 2)
    expect_error("unknown command", ["frobnicate"], 2, ["frobnicate"])
    expect_error("unknown option", ["info", "--model", model, "--frob"], 2, ["--frob"])
    expect_error("missing value", ["info", "--model"], 2)
    expect_error("unknown backend", ["info", "--model", model, "--backend", "metal"], 2, ["metal"])
    expect_error("template without {}", ["classify", "--model", model, "--label", "cat",
                                          "--template", "a photo", "x.png"], 2, ["a photo"])
    expect_error("classify without labels", ["classify", "--model", model, "x.png"], 2)
    expect_error("embed with nothing", ["embed", "--model", model], 2)
    # Under a Chinese LANGUAGE the messages on stderr and --help are
    # translated; the "clipscope: error: " prefix and the JSON are not.
    zh = {"LANGUAGE": "zh_CN", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    expect_error("unknown backend in Chinese", ["info", "--model", model, "--backend", "metal"], 2,
                 ["未知的后端“metal”"], env=zh)
    expect_error("unknown command in Chinese", ["frobnicate"], 2, ["未知的命令“frobnicate”"], env=zh)
    rc, out, _ = run("--help", env=zh)
    check("help in Chinese", rc == 0 and "在本机运行 CLIP 模型" in out and "classify" in out, out)
    rc, out, err = run("info", "--model", model, env=zh)
    check("JSON stays English in Chinese", rc == 0 and "embed_dim" in json.loads(out), err)
    # Without --model the bundled model is used; where none is installed,
    # the error says to pass --model.
    with tempfile.TemporaryDirectory() as empty:
        expect_error("missing --model and no bundled model", ["info"], 2, ["--model"],
                     env={"CLIPSCOPE_DATA_DIR": empty})


def read_po(path):
    """{msgid: msgstr} of a .po file's translated messages, escapes undone."""
    def literal(line):
        return json.loads(line[line.index('"'):])
    entries, key, field, fuzzy = {}, None, None, False
    cur = {"msgid": "", "msgstr": ""}

    def flush():
        if cur["msgid"] and cur["msgstr"] and not fuzzy:
            entries[cur["msgid"]] = cur["msgstr"]
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("#,") and "fuzzy" in line:
                flush()
                cur, fuzzy, field = {"msgid": "", "msgstr": ""}, True, None
            elif line.startswith("msgid "):
                if field == "msgstr":
                    flush()
                    cur, fuzzy = {"msgid": "", "msgstr": ""}, False
                field = "msgid"
                cur[field] = literal(line)
            elif line.startswith("msgstr "):
                field = "msgstr"
                cur[field] = literal(line)
            elif line.startswith('"') and field:
                cur[field] += literal(line)
            elif line.startswith("#~"):
                field = None
    flush()
    return entries


def help_options(text):
    """{option: description} of the option lines of GOption's --help."""
    options = {}
    for line in text.splitlines():
        parts = line.strip().split("  ", 1)
        if line.startswith("  -") and len(parts) == 2 and parts[1].strip():
            options[parts[0].split("=")[0].split(", ")[-1]] = parts[1].strip()
    return options


def test_translated_help():
    """Every command's --help, options included, in zh_CN: each English
    description is a message of the translation, and under LANGUAGE=zh_CN
    its translation is printed in its place; no English one is left."""
    po = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "po", "zh_CN.po")
    zh_po = read_po(po)
    english = {k: v for k, v in os.environ.items() if not k.startswith("LC_") and k != "LANGUAGE"}
    english.update(LANG="C.UTF-8")
    zh = dict(english, LANGUAGE="zh_CN", LC_ALL="C.UTF-8")

    def help_of(args, env):
        p = subprocess.run([CLI, *args, "--help"], capture_output=True, text=True, timeout=60, env=env)
        return p.returncode, p.stdout

    _, top = help_of([], english)
    commands = [l.split()[0] for l in top.split("Commands:\n", 1)[-1].splitlines()
                if l.startswith("  ") and len(l.split()) > 1]
    _, models = help_of(["models"], english)
    commands += ["models " + l.split()[0] for l in models.split("Subcommands:\n", 1)[-1].splitlines()
                 if l.startswith("  ") and len(l.split()) > 1]
    check("help lists the commands", len(commands) >= 15 and "classify" in commands
          and "models add" in commands, str(commands))
    # The two usages written by hand: each message in the English one is
    # gone from the Chinese one, replaced by its translation.
    for args, en in (([], top), (["models"], models)):
        _, out = help_of(args, zh)
        shown = [m for m in zh_po if len(m) > 12 and m in en]
        check("%s help in Chinese" % " ".join(["clipscope"] + args),
              len(shown) >= 3 and all(m not in out and zh_po[m] in out for m in shown), out)
    for cmd in commands:
        if cmd == "models":
            continue
        rc_en, en = help_of(cmd.split(), english)
        rc_zh, out = help_of(cmd.split(), zh)
        en_opts, zh_opts = help_options(en), help_options(out)
        problems = []
        for opt, desc in en_opts.items():
            if opt == "--help":
                continue            # GLib's own, translated by GLib
            if desc not in zh_po:
                problems.append("%s: %r is not in the translation" % (opt, desc))
            elif zh_opts.get(opt) != zh_po[desc]:
                problems.append("%s: %r in Chinese" % (opt, zh_opts.get(opt)))
        summary = en.split("\n\n")[1].strip() if en.count("\n\n") > 1 else ""
        if summary not in zh_po or zh_po[summary] not in out:
            problems.append("summary %r" % summary)
        left = [m for m in zh_po if len(m) > 12 and m in out]
        check("%s --help in Chinese" % cmd, rc_en == 0 and rc_zh == 0 and "--help" in en_opts
              and not problems and not left, "; ".join(problems) + " left: %r" % left)
        # Without LANGUAGE the text is the source's, message for message.
        check("%s --help in English" % cmd,
              all(d in zh_po for o, d in en_opts.items() if o != "--help") and "Usage:" in en, en)


def test_outputs(model, tmp):
    info = expect_json("info", ["info", "--model", model, "--backend", "cpu"])
    if info:
        keys = {"format", "vision", "text", "embed_dim", "context_length", "dtype",
                "parameters", "backend", "device"}
        check("info keys", keys <= set(info), str(sorted(info)))
        check("info backend", info.get("backend") == "cpu" and isinstance(info.get("device"), str))
        check("info dtype", info.get("dtype") == "float32")
        check("info family and scoring of a CLIP",
              info.get("family") == "clip" and info.get("scoring") == "softmax"
              and "logit_bias" not in info, str(info))

    img = os.path.join(tmp, "a.png")
    write_png(img, 40, 30)
    npy = os.path.join(tmp, "a.npy")
    res = expect_json("preprocess", ["preprocess", "--model", model, img, "--npy", npy])
    if res:
        arr = np.load(npy)
        size = info["vision"]["image_size"] if info else 32
        check("preprocess shape", res["shape"] == [3, size, size] and arr.shape == (3, size, size)
              and arr.dtype == np.float32, str(res))

    res = expect_json("embed", ["embed", "--model", model, "--image", img, "--text", "a cat",
                                "--text", "a dog"])
    if res:
        dims = [len(e["embedding"]) for e in res["images"] + res["texts"]]
        norms = [np.linalg.norm(e["embedding"]) for e in res["images"] + res["texts"]]
        check("embed order", [t["text"] for t in res["texts"]] == ["a cat", "a dog"]
              and res["images"][0]["path"] == img)
        check("embed normalised", all(abs(n - 1) < 1e-5 for n in norms) and len(set(dims)) == 1)

    # A text that starts with "-" comes after "--".
    res = expect_json("tokenize after --", ["tokenize", "--model", model, "--", "-hello", "x"])
    check("tokenize -- keeps both texts", res is not None and len(res["tokens"]) == 2)

    labels = os.path.join(tmp, "labels.txt")
    with open(labels, "w") as f:
        f.write("# animals\ncat\n\n  dog  \nbird\n")
    templates = os.path.join(tmp, "templates.txt")
    with open(templates, "w") as f:
        f.write("a photo of a {}.\n# comment\n{}\n")
    res = expect_json("classify", ["classify", "--model", model, "--labels-file", labels,
                                   "--templates-file", templates, "--label", "fish", img, img])
    if res:
        check("classify labels order", res["labels"] == ["fish", "cat", "dog", "bird"], str(res["labels"]))
        check("classify templates", res["templates"] == ["a photo of a {}.", "{}"], str(res["templates"]))
        check("classify says a CLIP scores with a softmax", res.get("scoring") == "softmax", str(res))
        check("classify scoring sits before the images",
              list(res).index("scoring") == list(res).index("images") - 1, str(list(res)))
        row = res["images"][0]
        check("classify row", len(row["similarity"]) == 4 and abs(sum(row["probabilities"]) - 1) < 1e-5
              and row["top"] == res["labels"][int(np.argmax(row["probabilities"]))])
        check("classify two images", len(res["images"]) == 2
              and res["images"][0]["similarity"] == res["images"][1]["similarity"])

    res = expect_json("bench", ["bench", "--model", model, "--batch", "2", "--images", "3",
                                "--texts", "3"])
    if res:
        check("bench keys", {"backend", "device", "batch", "load_ms", "images", "texts"} <= set(res)
              and res["images"]["count"] == 3 and res["images"]["ms_per_image"] > 0
              and res["texts"]["ms_per_text"] > 0, str(res))
        check("bench without --explains times no spatial pass", "explains" not in res, str(res))
    res = expect_json("bench --explains", ["bench", "--model", model, "--batch", "1", "--images", "0",
                                           "--texts", "0", "--explains", "2"])
    if res:
        check("bench --explains", res["explains"]["count"] == 2
              and res["explains"]["ms_per_explain"] > 0
              and abs(res["explains"]["explains_per_s"] * res["explains"]["ms_per_explain"] - 1000)
              < 1e-6 * 1000, str(res))


def copy_model(src, tmp, name):
    dst = os.path.join(tmp, name)
    shutil.copytree(src, dst)
    return dst


def rewrite_weights(path, edit):
    """Loads a safetensors file, lets @edit change the dict, writes it back."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    tensors, dtypes = {}, {}
    np_types = {"F32": np.float32, "I64": np.int64, "F16": np.float16}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        b, e = meta["data_offsets"]
        arr = np.frombuffer(data[8 + n + b:8 + n + e], dtype=np_types[meta["dtype"]])
        tensors[name] = arr.reshape(meta["shape"]).copy()
        dtypes[name] = meta["dtype"]
    edit(tensors)
    tinyclip.write_safetensors(path, tensors, {k: dtypes.get(k, "F32") for k in tensors})


def test_bad_models(model, tmp):
    weights = "model.safetensors"
    m = copy_model(model, tmp, "truncated")
    p = os.path.join(m, weights)
    with open(p, "rb") as f:
        data = f.read()
    with open(p, "wb") as f:
        f.write(data[:len(data) // 2])
    expect_error("truncated weights", ["info", "--model", m], 1, [weights])

    m = copy_model(model, tmp, "missing-tensor")
    name = "vision_model.post_layernorm.weight"
    rewrite_weights(os.path.join(m, weights), lambda t: t.pop(name))
    expect_error("missing tensor", ["info", "--model", m], 1, [name, "missing"])

    m = copy_model(model, tmp, "bad-shape")
    name = "text_model.final_layer_norm.bias"
    rewrite_weights(os.path.join(m, weights), lambda t: t.__setitem__(name, np.zeros(7, np.float32)))
    expect_error("mis-shaped tensor", ["info", "--model", m], 1, [name, "[7]"])

    m = copy_model(model, tmp, "random-bytes")
    with open(os.path.join(m, weights), "wb") as f:
        f.write(np.random.default_rng(1).bytes(4096))
    expect_error("random weights file", ["info", "--model", m], 1, [weights])

    m = copy_model(model, tmp, "no-tokenizer")
    os.remove(os.path.join(m, "vocab.json"))
    os.remove(os.path.join(m, "merges.txt"))
    expect_error("no tokenizer", ["info", "--model", m], 1, ["tokenizer"])

    m = copy_model(model, tmp, "bad-config")
    with open(os.path.join(m, "config.json"), "w") as f:
        f.write("{\"projection_dim\": ")
    expect_error("bad config", ["info", "--model", m], 1, ["config.json"])

    expect_error("no such model", ["info", "--model", os.path.join(tmp, "nope")], 1, ["nope"])


def test_limits(model, tmp):
    img = os.path.join(tmp, "a.png")
    # A sparse 2 GB labels file: refused from its size, without reading it.
    big = os.path.join(tmp, "big-labels.txt")
    with open(big, "wb") as f:
        f.truncate(2 * 1024 ** 3)
    expect_error("2 GB labels file", ["classify", "--model", model, "--labels-file", big, img],
                 1, ["big-labels.txt", "limit"])
    many = os.path.join(tmp, "many-labels.txt")
    with open(many, "w") as f:
        f.write("\n".join("label number %d" % i for i in range(10000)))
    res = expect_json("10,000 labels", ["classify", "--model", model, "--labels-file", many, img])
    check("10,000 labels scored", res is not None and len(res["images"][0]["probabilities"]) == 10000
          and abs(sum(res["images"][0]["probabilities"]) - 1) < 1e-4)
    # The longest single argument Linux passes is 128 KiB.
    res = expect_json("120 KB text", ["tokenize", "--model", model, "word " * 24000])
    check("long text truncated", res is not None and len(res["tokens"][0]) <= 77)


def test_bad_images(model, tmp):
    """One bad image given alone fails the command; among others it is an
    entry with its "error" (tests/test-hostile.py)."""
    npy = os.path.join(tmp, "bad.npy")
    huge = os.path.join(tmp, "huge.png")
    png_declaring(huge, 30000, 30000)
    expect_error("decompression bomb", ["preprocess", "--model", model, huge, "--npy", npy], 1, ["huge.png"])
    junk = os.path.join(tmp, "junk.jpg")
    with open(junk, "wb") as f:
        f.write(np.random.default_rng(2).bytes(1000))
    expect_error("random bytes image", ["preprocess", "--model", model, junk, "--npy", npy], 1, ["junk.jpg"])
    empty = os.path.join(tmp, "empty.png")
    open(empty, "wb").close()
    expect_error("empty image", ["preprocess", "--model", model, empty, "--npy", npy], 1, ["empty.png"])
    # GdkPixbuf's BMP loader would allocate 4 GB for this palette size.
    bmp = os.path.join(tmp, "palette.bmp")
    with open(bmp, "wb") as f:
        f.write(bytes.fromhex(
            "424d960100000000000036000000280000000d00000009a90000180001000000"
            "0000680100d200c40e0000c40ed50a22b7f16dc17597d42fa000"))
    expect_error("hostile BMP palette", ["preprocess", "--model", model, bmp, "--npy", npy], 1,
                 ["palette.bmp", "256 colours"])
    expect_error("missing image", ["preprocess", "--model", model, os.path.join(tmp, "no.png"), "--npy", npy],
                 1, ["no.png"])
    expect_error("invalid UTF-8 labels file", ["classify", "--model", model, "--labels-file", junk,
                                                os.path.join(tmp, "a.png")], 1, ["junk.jpg"])


def test_real_vocab(tmp):
    """Tokenize through the CLI with CLIP's real vocabulary in an open_clip folder."""
    if not os.path.exists(BPE):
        check("real vocabulary present", False, BPE + " is missing")
        return
    m = os.path.join(tmp, "real-vocab")
    tinyclip.make_model(m, fmt="open_clip", vision="vit", vocab_size=49408)
    os.remove(os.path.join(m, "vocab.json"))
    os.remove(os.path.join(m, "merges.txt"))
    shutil.copy(BPE, m)
    res = expect_json("tokenize real vocab", ["tokenize", "--model", m, "a photo of a cat"])
    check("a photo of a cat", res is not None
          and res["tokens"] == [[49406, 320, 1125, 539, 320, 2368, 49407]], str(res))
    res = expect_json("tokenize truncation", ["tokenize", "--model", m, "word " * 200])
    ctx = tinyclip.DEFAULT_DIMS["context_length"]
    check("truncated to the context", res is not None and len(res["tokens"][0]) == ctx
          and res["tokens"][0][-1] == 49407, str(res)[:200])


def read_templates(name):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "templates", name)
    with open(path, encoding="utf-8") as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("#")]


def test_template_presets(model, tmp):
    """--template-preset gives the bundled sets, in order, and the family's
    default stands in when no template is given."""
    img = os.path.join(tmp, "preset.png")
    write_png(img, 20, 20, seed=3)
    want = {
        "photo": ["a photo of a {}."],
        "imagenet": read_templates("imagenet.txt"),
        "chinese": ["一张{}的照片。"],
        "chinese-imagenet": read_templates("chinese-imagenet.txt"),
    }
    check("Chinese-CLIP's 80 templates", len(want["chinese-imagenet"]) == 80
          and want["chinese-imagenet"][0] == "{}的照片。" and want["chinese-imagenet"][-1] == "{}的刺青。"
          and all(t.count("{}") == 1 for t in want["chinese-imagenet"]))
    for name, templates in want.items():
        res = expect_json("classify --template-preset " + name,
                          ["classify", "--model", model, "--label", "猫", "--template-preset", name, img])
        check("preset %s templates" % name, res is not None and res["templates"] == templates,
              str(res and res["templates"][:3]))
    # The preset's templates come after --template, and they ensemble as if
    # they had been given one by one.
    res = expect_json("preset after --template", ["classify", "--model", model, "--label", "猫",
                                                   "--template", "{}", "--template-preset", "chinese", img])
    one = expect_json("preset as --template", ["classify", "--model", model, "--label", "猫", "--label", "狗",
                                                "--template", "一张{}的照片。", img])
    two = expect_json("preset alone", ["classify", "--model", model, "--label", "猫", "--label", "狗",
                                        "--template-preset", "chinese", img])
    check("preset appends", res is not None and res["templates"] == ["{}", "一张{}的照片。"])
    check("preset scores as its templates", one is not None and two is not None
          and one["images"][0]["similarity"] == two["images"][0]["similarity"])
    res = expect_json("search --template-preset", ["search", "--model", model, "--index",
                                                   os.path.join(tmp, "preset.sqlite"),
                                                   "--template-preset", "chinese", "猫"])
    check("search takes a preset", res is not None and res["templates"] == ["一张{}的照片。"], str(res))
    expect_error("unknown preset", ["classify", "--model", model, "--label", "cat",
                                    "--template-preset", "klingon", img], 2, ["klingon", "chinese-imagenet"])
    expect_error("unknown preset in explain", ["explain", "--model", model, "--label", "cat",
                                               "--template-preset", "klingon", img, "--npy",
                                               os.path.join(tmp, "x.npy")], 2, ["klingon"])


def test_chinese_clip(tmp):
    """A Chinese-CLIP says its family, scores with a softmax and takes the
    Chinese default template when none is given."""
    import chinese_clip_reference
    m = os.path.join(tmp, "chinese-clip")
    chinese_clip_reference.make_model(m, seed=5)
    img = os.path.join(tmp, "cn.png")
    write_png(img, 24, 24, seed=5)
    info = expect_json("info of a Chinese-CLIP", ["info", "--model", m, "--backend", "cpu"])
    check("Chinese-CLIP family", info is not None and info.get("family") == "chinese-clip"
          and info.get("scoring") == "softmax" and "logit_bias" not in info, str(info))
    res = expect_json("classify with a Chinese-CLIP", ["classify", "--model", m, "--backend", "cpu",
                                                       "--label", "猫", "--label", "狗", img])
    check("Chinese default template", res is not None and res["templates"] == ["一张{}的照片。"]
          and res["scoring"] == "softmax", str(res and res["templates"]))
    check("Chinese-CLIP probabilities add up to 1", res is not None
          and abs(sum(res["images"][0]["probabilities"]) - 1) < 1e-5, str(res))
    same = expect_json("the chinese preset", ["classify", "--model", m, "--backend", "cpu", "--label", "猫",
                                              "--label", "狗", "--template-preset", "chinese", img])
    check("default is the chinese preset", res is not None and same is not None
          and res["images"][0]["similarity"] == same["images"][0]["similarity"])
    res = expect_json("English template on a Chinese-CLIP", ["classify", "--model", m, "--backend", "cpu",
                                                              "--label", "cat", "--template", "a photo of a {}.",
                                                              img])
    check("a given template is kept", res is not None and res["templates"] == ["a photo of a {}."])


def make_siglip(path, version=1, fmt="hf", seed=0):
    tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "make-tiny-model")
    subprocess.run(["/usr/bin/python3", tool, path, "--family", "siglip", "--version", str(version),
                    "--format", fmt, "--seed", str(seed)], check=True, capture_output=True, timeout=300)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def test_sigmoid(tmp):
    """A SigLIP scores each image-label pair with its own sigmoid, in every
    command that scores, and says so."""
    m = os.path.join(tmp, "siglip")
    make_siglip(m, seed=7)
    imgs = []
    for i in range(3):
        imgs.append(os.path.join(tmp, "sig-%d.png" % i))
        write_png(imgs[-1], 30 + 7 * i, 26, seed=20 + i)
    info = expect_json("info of a SigLIP", ["info", "--model", m, "--backend", "cpu"])
    if info is None:
        return
    check("SigLIP family and scoring", info.get("family") == "siglip" and info.get("scoring") == "sigmoid"
          and isinstance(info.get("logit_bias"), float), str(info))
    scale, bias = info["logit_scale"], info.get("logit_bias", 0.0)
    labels = ["ab", "cd", "efg"]
    largs = [a for label in labels for a in ("--label", label)]
    res = expect_json("classify with a SigLIP", ["classify", "--model", m, "--backend", "cpu", *largs, *imgs])
    if res is None:
        return
    check("classify says sigmoid", res.get("scoring") == "sigmoid", str(res.get("scoring")))
    emb = expect_json("embed for the sigmoid check",
                      ["embed", "--model", m, "--backend", "cpu", *[a for i in imgs for a in ("--image", i)],
                       *[a for label in labels for a in ("--text", "a photo of a %s." % label)]])
    if emb is None:
        return
    img_emb = np.array([e["embedding"] for e in emb["images"]], dtype=np.float64)
    txt_emb = np.array([e["embedding"] for e in emb["texts"]], dtype=np.float64)
    cos = img_emb @ txt_emb.T
    want = sigmoid(scale * cos + bias)
    got = np.array([r["probabilities"] for r in res["images"]])
    sim = np.array([r["similarity"] for r in res["images"]])
    check("similarity is the embeddings' cosine", np.abs(sim - cos).max() < 1e-5, str(np.abs(sim - cos).max()))
    check("probabilities are sigmoid(scale * cos + bias)", np.abs(got - want).max() < 1e-5,
          "%s against %s" % (got.tolist(), want.tolist()))
    check("sigmoid probabilities need not add up to 1", any(abs(p.sum() - 1) > 1e-3 for p in got),
          str(got.sum(axis=1)))
    check("sigmoid top is the best cosine", all(r["top"] == labels[int(np.argmax(c))]
                                                for r, c in zip(res["images"], cos)))
    fewer = expect_json("classify with one label less",
                        ["classify", "--model", m, "--backend", "cpu", *largs[:4], *imgs])
    check("a label's probability does not depend on the others", fewer is not None and np.abs(
        np.array([r["probabilities"] for r in fewer["images"]]) - got[:, :2]).max() < 1e-6)

    # The threshold is on the cosine and leaves the probabilities alone.
    res_t = expect_json("sigmoid threshold", ["classify", "--model", m, "--backend", "cpu", *largs,
                                              "--threshold", "1", *imgs])
    check("sigmoid threshold leaves all unclassified", res_t is not None
          and all(r["unclassified"] and r["top"] is None for r in res_t["images"])
          and np.abs(np.array([r["probabilities"] for r in res_t["images"]]) - got).max() < 1e-7)

    # Prototypes score with the sigmoid too; a probe's probabilities are its softmax.
    proto = expect_json("sigmoid prototypes", ["classify", "--model", m, "--backend", "cpu", *largs,
                                               "--examples", "ab=" + imgs[0], *imgs])
    if proto is not None:
        p_sim = np.array([r["similarity"] for r in proto["images"]])
        p_got = np.array([r["probabilities"] for r in proto["images"]])
        check("prototype probabilities are the sigmoid of their cosines", proto["scoring"] == "sigmoid"
              and np.abs(p_got - sigmoid(scale * p_sim + bias)).max() < 1e-5
              and proto["classifier"][0]["mode"] == "prototype", str(proto["scoring"]))
    ex = sum((["--examples", "%s=%s" % (label, imgs[j % 3]), "--examples", "%s=%s" % (label, imgs[(j + 1) % 3])]
              for j, label in enumerate(labels)), [])
    probe = expect_json("sigmoid model with a probe", ["classify", "--model", m, "--backend", "cpu", *largs,
                                                       *ex, "--probe", *imgs])
    check("a probe's probabilities are a softmax", probe is not None and probe["scoring"] == "softmax"
          and all(abs(sum(r["probabilities"]) - 1) < 1e-5 for r in probe["images"]), str(probe and probe["scoring"]))

    out = os.path.join(tmp, "sorted")
    srt = expect_json("sort with a SigLIP", ["sort", "--model", m, "--backend", "cpu", *largs, "--into", out,
                                             "--dry-run", *imgs])
    check("sort follows the sigmoid's top labels", srt is not None
          and [f["top"] for f in srt["files"]] == [r["top"] for r in res["images"]], str(srt))

    table = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                         "build-aux", "classify-table.py")],
                           input=json.dumps(res), capture_output=True, text=True)
    check("the table says the probabilities are independent", table.returncode == 0
          and "independent" in table.stdout, table.stdout + table.stderr)

    # SigLIP 2 in open_clip's layout says the same.
    m2 = os.path.join(tmp, "siglip2-oc")
    make_siglip(m2, version=2, fmt="open_clip", seed=8)
    info2 = expect_json("info of a SigLIP 2 (open_clip)", ["info", "--model", m2, "--backend", "cpu"])
    check("SigLIP 2 family and scoring", info2 is not None and info2["family"] == "siglip"
          and info2["scoring"] == "sigmoid" and "logit_bias" in info2 and info2["format"] == "open_clip",
          str(info2))


def gomp_spin_count(chosen):
    """libgomp's spin count as it reports it at start-up, with the user's
    OpenMP wait settings @chosen only, or None where the build runs on no
    libgomp."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(chosen, OMP_DISPLAY_ENV="verbose")
    p = subprocess.run([CLI, "--help"], capture_output=True, text=True, timeout=120, env=env)
    for line in p.stderr.splitlines():
        if line.strip().startswith("GOMP_SPINCOUNT = "):
            return line.split("=", 1)[1].strip().strip("'")
    return None


def test_openmp_wait():
    """Idle OpenMP threads spin briefly, unless the user says otherwise."""
    default = gomp_spin_count({})
    if default is None:
        print("ok     no libgomp: nothing to check of its spinning")
        return
    # Some tens of microseconds, counted in rounds for the CPU it runs on.
    check("libgomp spins a short while by default",
          default.isdigit() and 1000 <= int(default) <= 100000, "GOMP_SPINCOUNT %s" % default)
    check("the user's GOMP_SPINCOUNT wins", gomp_spin_count({"GOMP_SPINCOUNT": "77"}) == "77")
    active = gomp_spin_count({"OMP_WAIT_POLICY": "active"})
    check("the user's OMP_WAIT_POLICY wins", active is not None and active.isdigit()
          and int(active) > 100000, "GOMP_SPINCOUNT %s" % active)


def main():
    if not os.path.exists(CLI):
        print("FAILED: no clipscope binary at %s" % CLI)
        return 1
    with tempfile.TemporaryDirectory(prefix="clipscope-cli-") as tmp:
        model = os.path.join(tmp, "tiny")
        tinyclip.make_model(model, fmt="hf", vision="vit")
        test_usage(model)
        test_translated_help()
        test_openmp_wait()
        test_outputs(model, tmp)
        test_bad_models(model, tmp)
        test_bad_images(model, tmp)
        test_limits(model, tmp)
        test_real_vocab(tmp)
        test_template_presets(model, tmp)
        test_chinese_clip(tmp)
        test_sigmoid(tmp)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("all CLI checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
