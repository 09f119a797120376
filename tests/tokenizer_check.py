"""What test-spm.py and test-wordpiece.py share: running the text-tokenize
helper on a list of texts and tallying the comparisons."""

import json
import os
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
