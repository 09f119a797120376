#!/usr/bin/python3
"""Checks Clipscope's SentencePiece tokenizers against sentencepiece itself.

The test trains small models with Debian's python3-sentencepiece on a
corpus it generates (Latin with accents, Greek, Cyrillic, CJK, digits), so
that nothing is downloaded:

  * unigram with the default nmt_nfkc normaliser, user-defined and control
    pieces (exercises the precompiled charsmap, Viterbi, merged unknowns);
  * unigram with T5's special ids (pad 0, EOS 1, unk 2), as SigLIP's;
  * unigram with white space as a suffix;
  * BPE with byte fallback and Gemma's settings (identity normaliser, no
    dummy prefix, spaces kept), with Gemma's special ids;
  * BPE without byte fallback (merged unknowns again).

For each, the ids Clipscope gives for a list of hard strings must equal
sentencepiece's Encode(), read from the .model file and from a
tokenizer.json derived from it as transformers' SentencePiece converters
lay one out. SigLIP's canonicalisation, EOS and padding are checked
against a Python rendering of big_vision's and Hugging Face's rules, and
corrupt model files must fail with a message naming the file.

The helper is found through $CLIPSCOPE_TEXT_TOKENIZE. Exit status 0 means
every check passed.
"""

import base64
import json
import os
import random
import re
import string
import struct
import sys
import tempfile

import sentencepiece as spm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenizer_check import compare as compare_ids, expect_error, random_texts, report, run_tool  # noqa: E402


def compare(label, expected, got, texts):
    compare_ids(label, expected, got, texts, "sentencepiece")

# ------------------------------------------------------------------ corpus

SYLLABLES = [
    "ka", "to", "ri", "mu", "sen", "pho", "cat", "dog", "the", "an", "is", "of",
    "é", "è", "ï", "ö", "ü", "ña", "ç", "ß", "Å",
    "東", "京", "猫", "犬", "愛", "北", "の", "と",
    "α", "λ", "Ω", "σ", "ς", "при", "вет", "мир",
    "1", "2", "42", "Th", "Qu", "X",
]


def make_corpus(path, seed):
    rng = random.Random(seed)
    words = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))) for _ in range(4000)]
    lines = []
    for _ in range(6000):
        line = " ".join(rng.choice(words) for _ in range(rng.randint(3, 14)))
        if rng.random() < 0.3:
            line += rng.choice([".", ",", "!", "?", " -", " (x)"])
        lines.append(line)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return words


def hard_strings(words):
    rng = random.Random(7)
    long_text = " ".join(rng.choice(words) for _ in range(1500))
    return [
        "",
        " ",
        "   ",
        "a",
        "Hello World",
        "  leading and trailing  ",
        "multiple   internal\t\tspaces\n\nnewlines\r\n",
        "Hello, world! (It's) a \"test\"; #1 @home & co. 50% off... ~~~",
        "ALL CAPS and MiXeD CaSe",
        "café naïve Ünïcödé résumé Ångström façade",
        "cafe\u0301 nai\u0308ve",
        "東京の猫と犬 我爱北京天安门",
        "한국어 텍스트",
        "cat 🐱 dog 🐶 👨‍👩‍👧 🇩🇪",
        "ＡＢＣ ①②③ ﬁ ㍻ Ⅻ ｶﾀｶﾅ",
        "x\u00a0y\u3000z\u2009w\u200bv",
        "tab\there \x01\x02 control\x7f",
        "ΟΔΟΣ Σίσυφος",
        "İstanbul ıI",
        "Привет мир",
        "مرحبا שלום",
        "1234567890 3.14159",
        "zero\u200bwidth\u200djoiner",
        "▁ already escaped ▁▁x",
        "<unk> <s> </s> <pad> <eos>",
        "[X] foo[X]bar foofoo",
        "CAB ＡＢ　ﬁ katoka KATO caté",
        "_under_score_ and the-hyphen",
        "a" * 3000,
        "αβγδεζηθ" * 200,
        "\u2581" * 50,
        long_text,
        " ".join(words[:40]),
        "".join(words[40:80]),
    ]


# ----------------------------------------------------- reading a .model file

def varint(data, pos):
    value = shift = 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def fields(data):
    """(number, wire type, value) of each field of a protobuf message."""
    pos = 0
    while pos < len(data):
        tag, pos = varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError("wire type %d" % wire)
        yield number, wire, value


def read_model(path):
    with open(path, "rb") as f:
        data = f.read()
    model = {"pieces": [], "normalizer": {"add_dummy_prefix": True, "remove_extra_whitespaces": True,
                                           "escape_whitespaces": True, "charsmap": b""},
             "trainer": {"model_type": 1, "byte_fallback": False}}
    for number, _, value in fields(data):
        if number == 1:
            piece, score, kind = "", 0.0, 1
            for n, _, v in fields(value):
                if n == 1:
                    piece = v.decode()
                elif n == 2:
                    score = struct.unpack("<f", v)[0]
                elif n == 3:
                    kind = v
            model["pieces"].append((piece, score, kind))
        elif number == 2:
            for n, _, v in fields(value):
                if n == 3:
                    model["trainer"]["model_type"] = v
                elif n == 35:
                    model["trainer"]["byte_fallback"] = bool(v)
                elif n == 24:
                    model["trainer"]["suffix"] = bool(v)
        elif number == 3:
            names = {2: "charsmap", 3: "add_dummy_prefix", 4: "remove_extra_whitespaces",
                     5: "escape_whitespaces"}
            for n, _, v in fields(value):
                if n in names:
                    model["normalizer"][names[n]] = v if n == 2 else bool(v)
    return model


# ------------------------------------------- tokenizer.json, as HF writes it

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = range(1, 7)


def hf_merges(pieces):
    """transformers' SentencePieceExtractor: every split of a piece into two
    pieces of the vocabulary, ordered by the joined piece's score."""
    vocab = {p: i for i, (p, _, _) in enumerate(pieces)}
    merges = []
    for piece, score, _ in pieces:
        local = []
        for i in range(1, len(piece)):
            left, right = piece[:i], piece[i:]
            if left in vocab and right in vocab:
                local.append((left, right, score))
        local.sort(key=lambda m: (vocab[m[0]], vocab[m[1]]))
        merges.extend(local)
    merges.sort(key=lambda m: m[2], reverse=True)
    return [[left, right] for left, right, _ in merges]


def write_tokenizer_json(model, path, merge_strings=False, layout="current", extra_ids=0):
    """As transformers' converters write it: SpmConverter's normaliser and
    pre-tokeniser now ("current") or before Strip came in ("older"),
    GemmaConverter's for a model without a charsmap. T5's converter adds
    @extra_ids control pieces <extra_id_N> after the model's own."""
    pieces = list(model["pieces"]) + [("<extra_id_%d>" % i, 0.0, CONTROL) for i in range(extra_ids - 1, -1, -1)]
    norm = model["normalizer"]
    added = [{"id": i, "content": p, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": kind != USER_DEFINED}
             for i, (p, _, kind) in enumerate(pieces) if kind in (UNKNOWN, CONTROL, USER_DEFINED)]
    unk_id = next(i for i, (_, _, kind) in enumerate(pieces) if kind == UNKNOWN)
    byte_fallback = model["trainer"]["byte_fallback"]
    if model["trainer"]["model_type"] == 1:
        hf_model = {"type": "Unigram", "unk_id": unk_id, "vocab": [[p, s] for p, s, _ in pieces],
                    "byte_fallback": byte_fallback}
    else:
        merges = hf_merges(pieces)
        hf_model = {"type": "BPE", "dropout": None, "unk_token": pieces[unk_id][0],
                    "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True,
                    "byte_fallback": byte_fallback, "ignore_merges": False,
                    "vocab": {p: i for i, (p, _, _) in enumerate(pieces)},
                    "merges": [" ".join(m) for m in merges] if merge_strings else merges}
    charsmap = {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(norm["charsmap"]).decode()}
    if norm["charsmap"] and layout == "current":
        normalizer = {"type": "Sequence", "normalizers": [
            charsmap, {"type": "Strip", "strip_left": False, "strip_right": True},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "\u2581"}]}
        pre_tokenizer = {"type": "Metaspace", "replacement": "\u2581",
                         "prepend_scheme": "always" if norm["add_dummy_prefix"] else "never", "split": True}
    elif norm["charsmap"]:
        normalizer = {"type": "Sequence", "normalizers": [
            charsmap, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
        pre_tokenizer = {"type": "Sequence", "pretokenizers": [
            {"type": "WhitespaceSplit"},
            {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": norm["add_dummy_prefix"]}]}
    else:
        normalizer = {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}
        pre_tokenizer = {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious",
                         "invert": False}
    document = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
                "normalizer": normalizer, "pre_tokenizer": pre_tokenizer, "post_processor": None,
                "decoder": None, "model": hf_model}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(document, f, ensure_ascii=False)


# ------------------------------------------------------------------ SigLIP

def canonicalize(text, underscore):
    """big_vision's canonicalize_text (HF's without the '_' step)."""
    if underscore:
        text = text.replace("_", " ")
    text = text.translate(str.maketrans("", "", string.punctuation))
    text = text.lower()
    text = re.sub(r"\s+", " ", text)
    return text.strip()


def siglip_ids(sp, text, underscore, eos, pad, length):
    ids = sp.encode(canonicalize(text, underscore)) + [eos]
    if len(ids) >= length:
        ids = ids[:length - 1] + [eos]
    return ids + [pad] * (length - len(ids))


def check_siglip(label, model_args, sp, texts, frame, eos, pad):
    for underscore in (True, False):
        for length in (64, 16):
            args = model_args + ["--frame", frame, "--context", str(length)]
            if underscore:
                args.append("--underscore")
            got, err = run_tool(args, texts)
            expected = [siglip_ids(sp, t, underscore, eos, pad, length) for t in texts]
            compare("%s %s ctx %d%s" % (label, frame, length, " _→space" if underscore else ""),
                    expected, got, texts)


# ---------------------------------------------------------- corrupt files

def check_corrupt(directory, model_path, json_path):
    with open(model_path, "rb") as f:
        data = f.read()
    cases = []
    for cut in (1, 2, 7, len(data) // 3, len(data) - 1):
        cases.append(("truncated at %d" % cut, data[:cut], ["byte offset"]))
    # The first piece's tag (field 1, wire type 2) as a varint, then as a group.
    cases.append(("wrong wire type", bytes([0x08]) + data[1:], ["wire type 0, expected 2"]))
    cases.append(("group", bytes([0x0B]) + data[1:], ["wire type 3"]))
    cases.append(("wire type 7", bytes([0x0F]) + data[1:], ["wire type 7"]))
    cases.append(("huge length", bytes([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]) + data[6:], ["bytes long"]))
    cases.append(("overlong varint", bytes([0x0A]) + b"\xff" * 11, ["longer than 10 bytes"]))
    cases.append(("field 0", bytes([0x02, 0x00]) + data, ["field number 0"]))
    cases.append(("empty file", b"", ["no pieces"]))
    cases.append(("not a model", b"hello world, this is text\n", []))
    # A piece whose type is out of range.
    cases.append(("bad piece type", bytes([0x0A, 0x05, 0x0A, 0x01, 0x61, 0x18, 0x09]) + data,
                  ["unknown type 9"]))
    # A charsmap whose trie claims more bytes than there are.
    cases.append(("bad charsmap", data + bytes([0x1A, 0x07, 0x12, 0x05, 0xFF, 0xFF, 0x00, 0x00, 0x00]),
                  ["charsmap"]))
    for label, content, mention in cases:
        path = os.path.join(directory, "corrupt.model")
        with open(path, "wb") as f:
            f.write(content)
        expect_error("spiece.model " + label, ["--spm", path], [path] + mention)

    with open(json_path, encoding="utf-8") as f:
        document = json.load(f)
    json_cases = [
        ("not JSON", "{\"model\": ", []),
        ("no model", json.dumps({"normalizer": None}), ["model"]),
        ("WordPiece model", json.dumps({"model": {"type": "WordPiece", "vocab": {}}}), ["WordPiece"]),
        ("bad vocab entry", json.dumps({"model": {"type": "Unigram", "unk_id": 0, "vocab": [["a"]]}}),
         ["vocab[0]"]),
        ("unk_id out of range", json.dumps({"model": {"type": "Unigram", "unk_id": 5,
                                                      "vocab": [["<unk>", 0.0]]}}), ["unk_id"]),
        ("duplicate piece", json.dumps({"model": {"type": "Unigram", "unk_id": 0,
                                                  "vocab": [["<unk>", 0.0], ["a", -1], ["a", -2]]}}),
         ["twice"]),
        ("bad base64", json.dumps(dict(document, normalizer={"type": "Precompiled",
                                                             "precompiled_charsmap": "!!!!"})), ["base64"]),
        ("NFKD normalizer", json.dumps(dict(document, normalizer={"type": "NFKD"})), ["NFKD"]),
        ("ByteLevel pre-tokenizer", json.dumps(dict(document, pre_tokenizer={"type": "ByteLevel"})),
         ["ByteLevel"]),
        ("ignore_merges", json.dumps({"model": {"type": "BPE", "vocab": {"<unk>": 0}, "merges": [],
                                                "unk_token": "<unk>", "ignore_merges": True}}), ["ignore_merges"]),
        ("merge outside the vocabulary", json.dumps({"model": {"type": "BPE", "vocab": {"<unk>": 0, "a": 1},
                                                               "merges": ["a a"], "unk_token": "<unk>"}}),
         ["merges[0]"]),
        ("sparse BPE ids", json.dumps({"model": {"type": "BPE", "vocab": {"<unk>": 0, "a": 5}, "merges": [],
                                                 "unk_token": "<unk>"}}), ["id of"]),
    ]
    for label, content, mention in json_cases:
        path = os.path.join(directory, "corrupt.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(content)
        expect_error("tokenizer.json " + label, ["--hf-json", path], [path] + mention)


# -------------------------------------------------------------------- main

MODELS = {
    "unigram": dict(model_type="unigram", vocab_size=900, user_defined_symbols=["[X]", "foo"],
                    control_symbols=["<ctl>"]),
    # A charsmap of its own: keys of several characters, replacements longer
    # and shorter than their keys, and a space.
    "unigram-rules": dict(model_type="unigram", vocab_size=600, normalization_rule_tsv=None),
    "unigram-t5": dict(model_type="unigram", vocab_size=700, pad_id=0, eos_id=1, unk_id=2, bos_id=-1),
    "unigram-suffix": dict(model_type="unigram", vocab_size=600, treat_whitespace_as_suffix=True),
    "bpe-gemma": dict(model_type="bpe", vocab_size=900, byte_fallback=True, normalization_rule_name="identity",
                      add_dummy_prefix=False, remove_extra_whitespaces=False, pad_id=0, eos_id=1, bos_id=2,
                      unk_id=3, user_defined_symbols=["[X]"]),
    "bpe": dict(model_type="bpe", vocab_size=700),
}


def main():
    with tempfile.TemporaryDirectory() as directory:
        corpus = os.path.join(directory, "corpus.txt")
        words = make_corpus(corpus, 1)
        texts = hard_strings(words) + random_texts(300, 5)
        paths = {}
        rules = os.path.join(directory, "rules.tsv")
        with open(rules, "w") as f:
            f.write("41\t61\n42\t62\nFF21\t61\n3000\t20\nFB01\t66 69\n43 41\t63\n6B 61 74 6F\t4B\n"
                    "E9\t65 301\n2581\t20 20\n")
        MODELS["unigram-rules"]["normalization_rule_tsv"] = rules
        for name, options in MODELS.items():
            prefix = os.path.join(directory, name)
            spm.SentencePieceTrainer.train(input=corpus, model_prefix=prefix, character_coverage=0.995,
                                           hard_vocab_limit=False, minloglevel=2, num_threads=1,
                                           **options)
            paths[name] = prefix + ".model"
            sp = spm.SentencePieceProcessor(model_file=paths[name])
            expected = [sp.encode(t) for t in texts]

            got, _ = run_tool(["--spm", paths[name]], texts)
            compare("%s .model" % name, expected, got, texts)
            if name == "unigram-suffix":
                continue  # tokenizer.json has no way to say this
            json_path = os.path.join(directory, name + ".json")
            model = read_model(paths[name])
            if model["normalizer"]["charsmap"]:
                write_tokenizer_json(model, json_path, layout="older")
                got, _ = run_tool(["--hf-json", json_path], texts)
                compare("%s tokenizer.json, older layout" % name, expected, got, texts)
            write_tokenizer_json(model, json_path, extra_ids=100 if name == "unigram-t5" else 0)
            got, _ = run_tool(["--hf-json", json_path], texts)
            compare("%s tokenizer.json" % name, expected, got, texts)
            if model["trainer"]["model_type"] == 2:
                write_tokenizer_json(model, json_path, merge_strings=True)
                got, _ = run_tool(["--hf-json", json_path], texts)
                compare("%s tokenizer.json, merges as strings" % name, expected, got, texts)

            if name == "unigram-t5":
                check_siglip(name, ["--spm", paths[name]], sp, texts, "siglip", eos=1, pad=1)
                check_siglip(name + " json", ["--hf-json", json_path], sp, texts, "siglip", eos=1, pad=1)
            if name == "bpe-gemma":
                check_siglip(name, ["--spm", paths[name]], sp, texts, "siglip2", eos=1, pad=0)
                check_siglip(name + " json", ["--hf-json", json_path], sp, texts, "siglip2", eos=1, pad=0)

        check_corrupt(directory, paths["unigram"], os.path.join(directory, "unigram.json"))

    report()


if __name__ == "__main__":
    main()
