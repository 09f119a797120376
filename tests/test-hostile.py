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


def truncated_png(src, dst, keep=0.6):
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data[:int(len(data) * keep)])


def test_partial_results(model, tmp):
    folder = os.path.join(tmp, "partial")
    os.mkdir(folder)
    good = [os.path.join(folder, "%d.png" % i) for i in range(3)]
    for i, path in enumerate(good):
        write_png(path, 30 + i, 20, seed=10 + i)
    bad = os.path.join(folder, "1-bad.png")
    truncated_png(good[0], bad)
    missing = os.path.join(folder, "missing.png")

    alone = expect_json("embed good images", ["embed", "--model", model, "--image", good[0],
                                              "--image", good[2]])
    args = ["embed", "--model", model, "--image", good[0], "--image", bad, "--image", missing,
            "--image", good[2]]
    rc, out, err = run(*args)
    check("embed with bad images exits 3", rc == 3, "exit %r, stderr %r" % (rc, err))
    check("one error line per bad image", len(error_lines(err)) == 2
          and "1-bad.png" in error_lines(err)[0] and "missing.png" in error_lines(err)[1], err)
    res = json.loads(out) if rc == 3 else None
    if res and alone:
        rows = res["images"]
        check("embed keeps the order, errors in place",
              [r["path"] for r in rows] == [good[0], bad, missing, good[2]]
              and "error" in rows[1] and "error" in rows[2] and "embedding" not in rows[1]
              and "error" not in rows[0] and "error" not in rows[3], rows)
        check("good embeddings unchanged by bad neighbours",
              np.allclose(rows[0]["embedding"], alone["images"][0]["embedding"], atol=1e-6)
              and np.allclose(rows[3]["embedding"], alone["images"][1]["embedding"], atol=1e-6))

    # classify takes a folder, as sort does, in name order.
    res = expect_json("classify a folder with a bad image", ["classify", "--model", model, "--label", "a",
                                                             "--label", "b", folder], status=3)
    if res:
        paths = [os.path.basename(r["path"]) for r in res["images"]]
        check("folder listed in name order", paths == ["0.png", "1-bad.png", "1.png", "2.png"], paths)
        check("bad image has its reason", "1-bad.png" in res["images"][1]["error"]
              and "top" not in res["images"][1] and all("top" in r for r in res["images"][2:]),
              res["images"])

    into = os.path.join(tmp, "sorted")
    res = expect_json("sort with a bad image", ["sort", "--model", model, "--label", "a", "--into", into,
                                                folder], status=3)
    if res:
        copied = sorted(f for _, _, fs in os.walk(into) for f in fs)
        check("sort copies the good ones", copied == ["0.png", "1.png", "2.png"], copied)
        check("sort reports the bad one", "error" in res["files"][1]
              and sum(res["folders"].values()) == 3, res)


def test_many_images(model, tmp):
    """10,000 images, 1 % of them bad: 9,900 results and 100 errors."""
    folder = os.path.join(tmp, "many")
    os.mkdir(folder)
    src = os.path.join(tmp, "many-src.png")
    write_png(src, 24, 24, seed=5)
    bad = os.path.join(tmp, "many-bad.png")
    truncated_png(src, bad)
    # Links: 10,000 names on two inodes cost no disk.
    for i in range(10000):
        os.link(bad if i % 100 == 42 else src, os.path.join(folder, "%05d.png" % i))
    rc, out, err = run("classify", "--model", model, "--label", "a", "--label", "b", folder,
                       timeout=600)
    res = json.loads(out) if rc == 3 else None
    check("10,000 images exit 3", rc == 3, "exit %r, %r" % (rc, err[-300:]))
    if res:
        ok = [r for r in res["images"] if "error" not in r]
        failed = [r for r in res["images"] if "error" in r]
        check("9,900 results and 100 errors", len(ok) == 9900 and len(failed) == 100
              and all(r["path"].endswith("42.png") for r in failed)
              and len(error_lines(err)) == 100, (len(ok), len(failed)))


def test_non_utf8_names(model, tmp):
    import base64
    folder = os.path.join(tmp, "names")
    os.mkdir(folder)
    raw = os.fsencode(os.path.join(folder, "")) + b"caf\xe9 \xff.png"
    write_png(raw.decode("utf-8", "surrogateescape"), 20, 20, seed=7)
    for args in (["embed", "--model", model, "--image", raw],
                 ["classify", "--model", model, "--label", "x", raw]):
        res = expect_json(args[0] + " a non-UTF-8 name", args)
        if res:
            row = res["images"][0]
            check(args[0] + " round-trips the name", base64.b64decode(row["path_base64"]) == raw
                  and row["path"].endswith("caf\ufffd \ufffd.png"), row)
    res = expect_json("classify a folder of non-UTF-8 names", ["classify", "--model", model,
                                                               "--label", "x", folder])
    check("folder's name round-trips", res is not None
          and base64.b64decode(res["images"][0]["path_base64"]) == raw, res)


def test_non_finite_models(model, tmp):
    """Weights or settings that would make NaN scores are refused at load,
    with the tensor's or the key's name, so no output can hold NaN."""
    img = os.path.join(tmp, "a.png")
    name = "vision_model.post_layernorm.weight"
    for value, shown in ((np.nan, "NaN"), (np.inf, "an infinity")):
        m = cli.copy_model(model, tmp, "non-finite-%s" % shown.split()[-1])

        def poison(tensors, value=value):
            tensors[name][3] = value
        cli.rewrite_weights(os.path.join(m, "model.safetensors"), poison)
        expect_error("weights holding " + shown, ["classify", "--model", m, "--label", "x", img],
                     [name, shown, "element 3"])
    m = cli.copy_model(model, tmp, "non-finite-f16")

    def poison_f16(tensors):
        tensors["text_projection.weight"] = tensors["text_projection.weight"].astype(np.float16)
        tensors["text_projection.weight"][0, 1] = np.float16("inf")
    cli.rewrite_weights(os.path.join(m, "model.safetensors"), poison_f16)
    expect_error("float16 weights holding an infinity", ["embed", "--model", m, "--text", "x"],
                 ["text_projection.weight", "infinity"])
    m = cli.copy_model(model, tmp, "negative-eps")
    with open(os.path.join(m, "config.json")) as f:
        config = json.load(f)
    config["vision_config"]["layer_norm_eps"] = -1
    with open(os.path.join(m, "config.json"), "w") as f:
        json.dump(config, f)
    expect_error("negative layer_norm_eps", ["classify", "--model", m, "--label", "x", img],
                 ["layer_norm_eps", "positive"])
    expect_error("models add refuses it", ["models", "add", m, "--name", "bad-eps"],
                 ["layer_norm_eps"])


def main():
    if not os.path.exists(CLI):
        print("FAILED: no clipscope binary at %s" % CLI)
        return 1
    with tempfile.TemporaryDirectory(prefix="clipscope-hostile-") as tmp:
        os.environ["XDG_DATA_HOME"] = os.path.join(tmp, "data")
        model = os.path.join(tmp, "tiny")
        tinyclip.make_model(model, fmt="hf", vision="vit")
        test_special_files(model, tmp)
        test_partial_results(model, tmp)
        test_non_finite_models(model, tmp)
        test_non_utf8_names(model, tmp)
        test_many_images(model, tmp)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("all hostile-input checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
