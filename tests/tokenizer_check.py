"""What test-spm.py and test-wordpiece.py share: running the text-tokenize
helper on a list of texts and tallying the comparisons."""

import json
import os
import random
import subprocess
import sys

TOOL = os.environ.get("CLIPSCOPE_TEXT_TOKENIZE", "/tmp/text-tokenize")
failures = []
passes = {}


def fail(message):
    failures.append(message)
    print("FAIL:", message, file=sys.stderr)


def count(label, ok):
    passes.setdefault(label, [0, 0])
    passes[label][0] += bool(ok)
    passes[label][1] += 1


# Blocks of long-assigned characters (so that Python's and GLib's Unicode
# tables agree on them): Latin, combining marks, Greek, Cyrillic, general
# punctuation, letter-like symbols and enclosed forms, CJK punctuation and
# kana, compatibility squares, ideographs, Hangul, compatibility
# ideographs and ligatures, full-width forms, emoji, mathematical letters.
RANDOM_BLOCKS = [(0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF),
                 (0x2000, 0x206F), (0x2100, 0x24FF), (0x3000, 0x30FF), (0x3200, 0x33FF), (0x4E00, 0x4EFF),
                 (0xAC00, 0xAC4F), (0xF900, 0xFA2D), (0xFB00, 0xFB4F), (0xFE30, 0xFE6F), (0xFF00, 0xFFEF),
                 (0x1F300, 0x1F64F), (0x1D400, 0x1D4FF)]


def random_texts(count, seed):
    """Texts of up to 40 characters drawn from RANDOM_BLOCKS, with runs of
    spaces."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        chars = []
        for _ in range(rng.randint(0, 40)):
            if rng.random() < 0.2:
                chars.append(" " * rng.randint(1, 3))
            else:
                lo, hi = rng.choice(RANDOM_BLOCKS)
                chars.append(chr(rng.randint(lo, hi)))
        texts.append("".join(chars))
    return texts


def run_tool(args, texts):
    """The helper's JSON output for @texts (None if it failed), and its
    standard error."""
    proc = subprocess.run([TOOL] + args, input=json.dumps(texts).encode(), capture_output=True,
                          timeout=600)
    if proc.returncode != 0:
        return None, proc.stderr.decode(errors="replace")
    return json.loads(proc.stdout), proc.stderr.decode(errors="replace")


def compare(label, expected, got, texts, reference):
    if got is None:
        fail("%s: the helper failed" % label)
        return
    for text, want, have in zip(texts, expected, got):
        count(label, want == have)
        if want != have:
            fail("%s: %r\n  %-13s %s\n  clipscope     %s" % (label, text[:80], reference, want[:40], have[:40]))


def expect_error(label, args, must_mention):
    """The helper must fail with a message holding each of @must_mention."""
    got, err = run_tool(args, ["a"])
    ok = got is None and all(m in err for m in must_mention) and "Traceback" not in err
    count("broken files", ok)
    if not ok:
        fail("%s: expected an error mentioning %s, got %r" % (label, must_mention, err[-300:]))


def report():
    """Prints the tallies; exits 1 if anything failed."""
    for label, (ok, total) in passes.items():
        print("%-45s %d/%d" % (label, ok, total))
    if failures:
        print("%d failures" % len(failures), file=sys.stderr)
        sys.exit(1)
    print("all passed")
