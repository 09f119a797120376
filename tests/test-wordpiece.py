#!/usr/bin/python3
"""Checks Clipscope's WordPiece tokenizer against BERT's rules in Python.

Chinese-CLIP tokenizes with Google BERT's tokenization.py (lower-casing,
accent stripping, CJK characters split apart, punctuation split off,
greedy longest-match WordPiece with "##" continuations) and frames the
pieces as [CLS] … [SEP] with zero padding to 52. This test writes that
algorithm out again here, from the rules, generates a vocab.txt with
ASCII, CJK, full-width and "##" pieces, and requires the helper's ids to
equal the Python ones on a list of hard strings, raw and framed at two
context lengths. Broken vocabularies must fail with a message naming the
file.

The helper is found through $CLIPSCOPE_TEXT_TOKENIZE. Exit status 0 means
every check passed.
"""

import os
import random
import sys
import tempfile
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenizer_check import compare, expect_error, random_texts, report, run_tool  # noqa: E402

# --------------------------------------------------------- BERT, in Python

def is_whitespace(c):
    return c in " \t\n\r" or unicodedata.category(c) == "Zs"


def is_control(c):
    if c in "\t\n\r":
        return False
    return unicodedata.category(c) in ("Cc", "Cf")


def is_punctuation(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


CJK_RANGES = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
              (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


def is_cjk(c):
    return any(lo <= ord(c) <= hi for lo, hi in CJK_RANGES)


def basic_tokenize(text):
    cleaned = []
    for c in text:
        if ord(c) in (0, 0xFFFD) or is_control(c):
            continue
        cleaned.append(" " if is_whitespace(c) else c)
    text = "".join(" %s " % c if is_cjk(c) else c for c in cleaned)
    words = []
    for token in text.strip().split():
        token = unicodedata.normalize("NFD", token.lower())
        token = "".join(c for c in token if unicodedata.category(c) != "Mn")
        current = []
        for c in token:
            if is_punctuation(c):
                if current:
                    words.append("".join(current))
                    current = []
                words.append(c)
            else:
                current.append(c)
        if current:
            words.append("".join(current))
    return " ".join(words).strip().split()


def wordpiece(word, vocab):
    if len(word) > 200:
        return [vocab["[UNK]"]]
    ids, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            piece = ("##" if start > 0 else "") + word[start:end]
            if piece in vocab:
                found = vocab[piece]
                break
            end -= 1
        if found is None:
            return [vocab["[UNK]"]]
        ids.append(found)
        start = end
    return ids


def encode(text, vocab):
    return [i for word in basic_tokenize(text) for i in wordpiece(word, vocab)]


def frame(ids, vocab, length):
    ids = [vocab["[CLS]"]] + ids[:length - 2] + [vocab["[SEP]"]]
    return ids + [0] * (length - len(ids))


# ----------------------------------------------------------------- vocab

def make_vocab(path):
    rng = random.Random(3)
    pieces = ["[PAD]"] + ["[unused%d]" % i for i in range(1, 6)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    for c in (chr(i) for i in range(33, 127)):
        pieces += [c, "##" + c]
    # Most of the common CJK block, and not all: some ideographs are unknown.
    pieces += [chr(cp) for cp in range(0x4E00, 0x9FA6) if rng.random() < 0.7]
    pieces += list("，。！？、：；「」《》（）…—ａｂｃ１２３ßøłđ")
    pieces += ["##" + c for c in "ßøł"]
    pieces += ["photo", "##s", "cat", "##ing", "un", "##believ", "##able", "the", "of", "a", "dog",
               "hello", "world", "cafe", "naive", "resume", "istanbul", "##ı", "οδος", "σισυφος",
               "привет", "мир", "##ер", "ᄒ", "##ᅡ", "##ᆫ", "에", "x" * 10, "##" + "x" * 10,
               "super", "##cal", "##i", "tokyo", "##tower", "[", "]"]
    seen, unique = set(), []
    for p in pieces:
        if p not in seen:
            seen.add(p)
            unique.append(p)
    # A repeated line: the last occurrence's id wins.
    unique.append("cat")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(unique) + "\n")
    vocab = {}
    for i, p in enumerate(unique):
        vocab[p] = i
    return vocab


HARD_STRINGS = [
    "",
    "   ",
    "a",
    "A Photo of a CAT!",
    "photos of cats, dogs & the catting unbelievable",
    "一张猫的照片。",
    "我爱北京天安门，天安门上太阳升！",
    "東京タワーtokyotower",
    "Café naïve RÉSUMÉ Ångström",
    "ΟΔΟΣ Σίσυφος",
    "İstanbul ıI",
    "Привет, мир!",
    "한국어 텍스트 한에",
    "cat 🐱 dog 🐶 👨‍👩‍👧",
    "ＡＢＣ　ａｂｃ１２３，。",
    "tab\there\nnew\r\nline\x0bvt\x0cff",
    "ctl\x01\x02\x7f\u200bzw\u200djoin\ufeffbom\ufffdrepl",
    "nbsp\u00a0thin\u2009ideo\u3000sep\u2028para\u2029end",
    "private\ue000use",
    "x" * 201,
    "x" * 200,
    "x" * 30,
    "supercalifragilistic",
    "supercali",
    "[CLS] [SEP] [UNK] a##b ##s",
    "ßtraße øl łódź đ",
    "«quotes» “curly” ‘single’ — dash – en ¿que? ¡si!",
    "1,234.56 $5 100% #tag @user ^_^ ~tilde~ `tick`",
    "猫" * 80,
]


def expect_vocab_error(label, path, content, must_mention):
    if content is not None:
        with open(path, "wb") as f:
            f.write(content)
    expect_error(label, ["--wordpiece", path], [path] + must_mention)


def main():
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "vocab.txt")
        vocab = make_vocab(path)
        texts = HARD_STRINGS + random_texts(300, 6)

        got, _ = run_tool(["--wordpiece", path], texts)
        compare("wordpiece ids", [encode(t, vocab) for t in texts], got, texts, "python")
        for length in (52, 8):
            got, _ = run_tool(["--wordpiece", path, "--frame", "wordpiece", "--context", str(length)], texts)
            compare("framed, context %d" % length, [frame(encode(t, vocab), vocab, length) for t in texts],
                    got, texts, "python")

        broken = os.path.join(directory, "broken.txt")
        expect_vocab_error("no [UNK]", broken, b"[PAD]\n[CLS]\n[SEP]\na\n", ["[UNK]"])
        expect_vocab_error("no [CLS]", broken, b"[PAD]\n[UNK]\n[SEP]\n", ["[CLS]"])
        expect_vocab_error("empty", broken, b"", ["[UNK]"])
        expect_vocab_error("invalid UTF-8", broken, b"[PAD]\n[UNK]\n\xff\xfe\n", [":3:", "UTF-8"])
        expect_vocab_error("missing file", os.path.join(directory, "none", "vocab.txt"), None, [])

    report()


if __name__ == "__main__":
    main()
