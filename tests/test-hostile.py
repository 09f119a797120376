#!/usr/bin/python3
"""Hostile inputs through the real binary: special files, pipes, broken and
oversized images, non-UTF-8 names and many inputs with a few bad ones.

Every command runs under a time limit, and the images under a memory
limit, so that a regression shows as a failure rather than a hung or
swapping CI machine.
"""

import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tinyclip  # noqa: E402

cli = importlib.import_module("test-cli")
check, failures, write_png = cli.check, cli.failures, cli.write_png

CLI = os.environ.get("CLIPSCOPE_CLI", "_build/app/clipscope")
# Address space for one command: the tiny model and the decoders need far
# less; a decoder that allocates for a bomb's declared size needs far more.
MEMORY_LIMIT = 1536 * 1024 * 1024
TIME_LIMIT = 60

def limit_memory():
    # Sanitizer builds reserve terabytes of shadow memory up front.
    if "ASAN_OPTIONS" not in os.environ and "TSAN_OPTIONS" not in os.environ:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run(*args, stdin=None, timeout=TIME_LIMIT):
    try:
        p = subprocess.run([CLI, *args], capture_output=True, timeout=timeout, input=stdin,
                           preexec_fn=limit_memory)
    except subprocess.TimeoutExpired:
        return None, b"", b"timed out"
    return p.returncode, p.stdout, p.stderr


def error_lines(err):
    return [l for l in err.decode("utf-8", "replace").splitlines()
            if l.startswith("clipscope: error: ")]


def expect_error(name, args, needles=(), stdin=None, status=1):
    rc, out, err = run(*args, stdin=stdin)
    lines = error_lines(err)
    ok = rc == status and len(lines) == 1 and out == b"" and all(n in lines[0] for n in needles)
    check(name, ok, "exit %r, stderr %r" % (rc, err))


def expect_json(name, args, status=0, stdin=None):
    """The parsed output of a command that must exit with @status; strict
    JSON: NaN, Infinity and invalid UTF-8 are refused."""
    rc, out, err = run(*args, stdin=stdin)
    if rc != status:
        check(name, False, "exit %r (expected %d), stderr %r" % (rc, status, err))
        return None
    try:
        return json.loads(out.decode("utf-8"), parse_constant=lambda c: cli_error(c))
    except ValueError as e:
        check(name, False, "not JSON: %s" % e)
        return None


def cli_error(constant):
    raise ValueError("non-finite number %s" % constant)


def feed_fifo(path, data):
    """Opens @path for writing in a thread (so the reader is not blocked
    forever should it never open it) and writes @data."""
    def write():
        try:
            fd = os.open(path, os.O_WRONLY)
        except OSError:
            return
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    t = threading.Thread(target=write, daemon=True)
    t.start()
    return t


def test_special_files(model, tmp):
    img = os.path.join(tmp, "a.png")
    write_png(img, 40, 30)
    fifo = os.path.join(tmp, "fifo.png")
    os.mkfifo(fifo)
    npy = os.path.join(tmp, "x.npy")
    expect_error("FIFO to preprocess", ["preprocess", "--model", model, fifo, "--npy", npy],
                 ["fifo.png", "FIFO"])
    expect_error("FIFO to explain", ["explain", "--model", model, "--label", "x", fifo, "--npy", npy],
                 ["fifo.png", "FIFO"])
    expect_error("FIFO as an example", ["classify", "--model", model, "--label", "x",
                                        "--examples", "x=" + fifo, img], ["fifo.png", "FIFO"])
    expect_error("/dev/zero as an image", ["preprocess", "--model", model, "/dev/zero", "--npy", npy],
                 ["/dev/zero", "device"])
    # A FIFO in a folder of examples is passed over like any other non-image.
    examples = os.path.join(tmp, "examples")
    os.mkdir(examples)
    write_png(os.path.join(examples, "one.png"), 20, 20, seed=3)
    os.mkfifo(os.path.join(examples, "two.png"))
    res = expect_json("FIFO inside an examples folder", ["classify", "--model", model, "--label", "x",
                                                         "--label", "y", "--examples", "x=" + examples,
                                                         img])
    check("the folder's one image is the example", res is not None
          and len(res["classifier"][0]["examples"]) == 1, res)

    # Lists from pipes: standard input, and a named pipe with a writer.
    res = expect_json("labels from a pipe", ["classify", "--model", model, "--labels-file", "/dev/stdin",
                                             img], stdin=b"cat\n# skipped\ndog\n")
    check("piped labels read", res is not None and res["labels"] == ["cat", "dog"], res)
    tfifo = os.path.join(tmp, "templates.fifo")
    os.mkfifo(tfifo)
    feed_fifo(tfifo, b"a {} here\nthe {} there\n")
    res = expect_json("templates from a FIFO", ["classify", "--model", model, "--label", "cat",
                                                "--templates-file", tfifo, img])
    check("piped templates read, not the default", res is not None
          and res["templates"] == ["a {} here", "the {} there"], res)
    expect_error("empty piped labels", ["classify", "--model", model, "--labels-file", "/dev/null", img],
                 ["no labels"], status=2)
    expect_error("a folder as a labels file", ["classify", "--model", model, "--labels-file", tmp, img],
                 ["is a folder"])
    # A pipe that never ends is cut at the limit, with a message.
    expect_error("endless labels pipe", ["classify", "--model", model, "--labels-file", "/dev/zero", img],
                 ["/dev/zero", "limit"])
    # A newline in a name stays on the error's one line.
    odd = os.path.join(tmp, "two\nlines.png")
    expect_error("newline in a name", ["preprocess", "--model", model, odd, "--npy", npy],
                 ["two\\x0alines.png"])


def main():
    if not os.path.exists(CLI):
        print("FAILED: no clipscope binary at %s" % CLI)
        return 1
    with tempfile.TemporaryDirectory(prefix="clipscope-hostile-") as tmp:
        model = os.path.join(tmp, "tiny")
        tinyclip.make_model(model, fmt="hf", vision="vit")
        test_special_files(model, tmp)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("all hostile-input checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
