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
failures, write_png = cli.failures, cli.write_png


def check(name, cond, detail=""):
    cli.check(name, cond, str(detail)[:600])

CLI = os.environ.get("CLIPSCOPE_CLI", "_build/app/clipscope")
# Address space for one command: the tiny model and the decoders need far
# less; a decoder that allocates for a bomb's declared size needs far more.
MEMORY_LIMIT = 1536 * 1024 * 1024
TIME_LIMIT = 60

def sanitized():
    """Whether the binaries are built with a sanitizer, which reserves
    terabytes of address space up front."""
    out = subprocess.run(["ldd", CLI], capture_output=True, text=True).stdout
    return "libasan" in out or "libtsan" in out


SANITIZED = sanitized()


def limit_memory():
    if not SANITIZED:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run(*args, stdin=None, timeout=TIME_LIMIT, env=None):
    try:
        p = subprocess.run([CLI, *args], capture_output=True, timeout=timeout, input=stdin,
                           preexec_fn=limit_memory, env=None if env is None else dict(os.environ, **env))
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


def expect_json(name, args, status=0, stdin=None, env=None):
    """The parsed output of a command that must exit with @status; strict
    JSON: NaN, Infinity and invalid UTF-8 are refused."""
    rc, out, err = run(*args, stdin=stdin, env=env)
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
    rc, out, _ = run("embed", "--help")
    check("embed --help names the command once", rc == 0
          and "clipscope embed [OPTION" in out.decode() and "embed [OPTION…] embed" not in out.decode(), out)
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
        copied = sorted(f for _, _, fs in os.walk(into) for f in fs if not f.startswith("."))
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


# Formats Pillow writes and GdkPixbuf's loaders read, and whether a file
# cut short is an error (TIFF, GIF and TGA by their loaders; PNG, JPEG,
# BMP, PNM and WebP by the checks before them).
FORMATS = {"png": "PNG", "jpg": "JPEG", "gif": "GIF", "bmp": "BMP", "tiff": "TIFF",
           "ppm": "PPM", "pgm": "PPM", "tga": "TGA", "webp": "WEBP"}


def test_truncated(model, tmp):
    from PIL import Image
    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    npy = os.path.join(tmp, "t.npy")
    for ext, fmt in FORMATS.items():
        whole = os.path.join(tmp, "whole." + ext)
        image = Image.fromarray(pixels)
        (image.convert("L") if ext == "pgm" else image).save(whole, fmt)
        with open(whole, "rb") as f:
            data = f.read()
        rc, _, err = run("preprocess", "--model", model, whole, "--npy", npy)
        check("whole " + ext + " decodes", rc == 0, err)
        # Folders are scanned for images of every format the loaders read.
        folder = os.path.join(tmp, "folder-" + ext)
        os.mkdir(folder)
        os.link(whole, os.path.join(folder, "image." + ext))
        res = expect_json("a folder with a %s file" % ext,
                          ["classify", "--model", model, "--label", "a", "--label", "b", folder])
        check("the %s file in a folder is classified" % ext, res is not None
              and [os.path.basename(r["path"]) for r in res["images"]] == ["image." + ext]
              and "error" not in res["images"][0], res)
        for cut in (0.3, 0.7, 0.97):
            part = os.path.join(tmp, "cut-%d.%s" % (cut * 100, ext))
            with open(part, "wb") as f:
                f.write(data[:int(len(data) * cut)])
            expect_error("%s cut at %d%%" % (ext, cut * 100),
                         ["preprocess", "--model", model, part, "--npy", npy],
                         [os.path.basename(part)])


def test_oversized(model, tmp):
    """Files that declare far more pixels than they hold are refused from
    their headers: the limit, or the least a format needs for its size."""
    import io
    import struct
    from PIL import Image
    npy = os.path.join(tmp, "o.npy")

    def refused(name, data, needles):
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        expect_error("oversized " + name, ["preprocess", "--model", model, path, "--npy", npy],
                     [name] + needles)

    def saved(fmt, **kw):
        out = io.BytesIO()
        Image.new("RGB", (16, 16), (200, 10, 10)).save(out, fmt, **kw)
        return bytearray(out.getvalue())

    jpeg = saved("JPEG")
    sof = jpeg.find(b"\xff\xc0")
    jpeg[sof + 5:sof + 9] = struct.pack(">HH", 9999, 9999)
    refused("claims.jpg", bytes(jpeg), ["9999", "at least"])
    png = os.path.join(tmp, "claims.png")
    cli.png_declaring(png, 9000, 9000)
    with open(png, "rb") as f:
        refused("claims.png", f.read(), ["9000", "at least"])
    gif = saved("GIF")
    gif[6:10] = struct.pack("<HH", 65535, 65535)
    refused("claims.gif", bytes(gif), [])
    refused("claims.ppm", b"P6\n60000 60000\n255\n" + b"\0" * 100, [])
    tga = saved("TGA")
    tga[12:16] = struct.pack("<HH", 65535, 65535)
    refused("claims.tga", bytes(tga), [])
    # A real decompression bomb: 1.6 MB of pixels in a few kilobytes, under
    # the limit, decodes within the memory and time limits.
    bomb = os.path.join(tmp, "zeros.png")
    Image.new("L", (4000, 4000)).save(bomb, optimize=True)
    rc, _, err = run("preprocess", "--model", model, bomb, "--npy", npy)
    check("4000² PNG of zeros decodes within the limits", rc == 0, err)
    # WebP's headers (VP8, VP8L, VP8X) give at most 16384² pixels, over
    # the limit; the loader would allocate them before asking.
    vp8 = saved("WEBP", quality=50)
    start = vp8.find(b"\x9d\x01\x2a")
    vp8[start + 3:start + 7] = struct.pack("<HH", 16383, 16383)
    refused("claims-vp8.webp", bytes(vp8), ["16383", "limit"])
    vp8l = saved("WEBP", lossless=True)
    vp8l[21:25] = struct.pack("<I", 0x3fff | 0x3fff << 14 | (vp8l[24] & 0xf0) << 24)
    refused("claims-vp8l.webp", bytes(vp8l), ["16384", "limit"])
    frames = [Image.new("RGB", (16, 16), (i * 90, 10, 10)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=50)
    anim = bytearray(out.getvalue())
    anim[24:30] = (12000).to_bytes(3, "little") + (12000).to_bytes(3, "little")
    refused("claims-vp8x.webp", bytes(anim), ["12001", "limit"])
    # A first frame whose image declares more than its frame header.
    anim = bytearray(out.getvalue())
    start = anim.find(b"\x9d\x01\x2a")
    anim[start + 3:start + 7] = struct.pack("<HH", 16383, 16383)
    refused("frame-claims.webp", bytes(anim), ["first frame"])
    # An animation is read from its first frame alone: 30 frames of
    # 2000 × 1500 would take 360 MB decoded, over a helper's 300 MB.
    big = [Image.new("RGB", (2000, 1500), (i * 8, 0, 0)) for i in range(30)]
    frames_path = os.path.join(tmp, "frames.webp")
    big[0].save(frames_path, save_all=True, append_images=big[1:], duration=50, lossless=True,
                method=0)
    del big
    rc, _, err = run("preprocess", "--model", model, frames_path, "--npy", npy,
                     env={"CLIPSCOPE_DECODE_MEMORY_MB": "300"})
    check("a 30-frame 2000 × 1500 WebP decodes from its first frame in 300 MB", rc == 0, err)


def test_svg(model, tmp):
    """Vector images are drawn at the model's size, whatever they declare."""
    npy = os.path.join(tmp, "s.npy")

    def svg(name, body, width, height):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write('<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" '
                    'viewBox="0 0 100 100" preserveAspectRatio="none">%s</svg>' % (width, height, body))
        return path

    half = '<rect width="100" height="50" fill="#ff0000"/><rect y="50" width="100" height="50" fill="#0000ff"/>'
    small = svg("small.svg", half, 100, 100)
    large = svg("large.svg", half, 100000, 100000)
    outs = []
    for path in (small, large):
        rc, _, err = run("preprocess", "--model", model, path, "--npy", npy, timeout=20)
        check("SVG %s drawn" % os.path.basename(path), rc == 0, err)
        outs.append(np.load(npy) if rc == 0 else None)
    if outs[0] is not None and outs[1] is not None:
        check("declared size does not matter", np.abs(outs[0] - outs[1]).max() < 1e-6)
    thin = svg("thin.svg", half, 1000000000, 1)
    expect_error("SVG of absurd aspect", ["preprocess", "--model", model, thin, "--npy", npy],
                 ["thin.svg", "limit"])
    blur = ('<defs><filter id="f" x="-50" y="-50" width="100" height="100">'
            '<feGaussianBlur stdDeviation="200"/><feMorphology radius="400" operator="dilate"/>'
            '</filter></defs>' + '<rect width="100" height="100" filter="url(#f)"/>' * 20)
    bomb = svg("filters.svg", blur, 40000, 40000)
    rc, _, err = run("preprocess", "--model", model, bomb, "--npy", npy, timeout=30)
    check("SVG filter bomb finishes", rc in (0, 1), err)


def test_orientation(model, tmp):
    """EXIF orientation is applied for JPEG, PNG and WebP alike, and
    --ignore-exif-orientation leaves images as stored, as OpenAI's CLIP."""
    from PIL import Image
    rng = np.random.default_rng(9)
    image = Image.fromarray(rng.integers(0, 256, (40, 90, 3), dtype=np.uint8))
    plain = os.path.join(tmp, "plain.png")
    image.save(plain)
    turned = os.path.join(tmp, "turned.png")
    image.transpose(Image.Transpose.ROTATE_270).save(turned)
    exif = Image.Exif()
    exif[0x0112] = 6
    tagged = os.path.join(tmp, "tagged.png")
    image.save(tagged, exif=exif.tobytes())

    def tensor(path, *extra):
        npy = os.path.join(tmp, "orient.npy")
        rc, _, err = run("preprocess", "--model", model, path, "--npy", npy, *extra)
        return np.load(npy) if rc == 0 else None
    a, b = tensor(tagged), tensor(turned)
    check("PNG eXIf orientation applied", a is not None and b is not None and np.array_equal(a, b))
    a, b = tensor(tagged, "--ignore-exif-orientation"), tensor(plain)
    check("--ignore-exif-orientation leaves it as stored", a is not None and b is not None
          and np.array_equal(a, b))
    # A WebP's EXIF chunk, lossless so that its pixels are the PNG's.
    webp = os.path.join(tmp, "tagged.webp")
    image.save(webp, lossless=True, exif=exif.tobytes())
    a, b = tensor(webp), tensor(turned)
    check("WebP EXIF orientation applied", a is not None and b is not None and np.array_equal(a, b))
    a, b = tensor(webp, "--ignore-exif-orientation"), tensor(plain)
    check("--ignore-exif-orientation leaves a WebP as stored", a is not None and b is not None
          and np.array_equal(a, b))
    # Some writers start the chunk with a JPEG's "Exif\0\0"; Pillow skips it.
    with open(webp, "rb") as f:
        data = bytearray(f.read())
    at = data.find(b"EXIF")
    size = int.from_bytes(data[at + 4:at + 8], "little")
    data[at + 4:at + 8] = (size + 6).to_bytes(4, "little")
    data[at + 8:at + 8] = b"Exif\0\0"
    data[4:8] = (len(data) - 8).to_bytes(4, "little")
    prefixed = os.path.join(tmp, "prefixed.webp")
    with open(prefixed, "wb") as f:
        f.write(bytes(data))
    with Image.open(prefixed) as opened:
        check("Pillow reads the prefixed EXIF chunk", opened.getexif().get(0x0112) == 6)
    a = tensor(prefixed)
    check("WebP EXIF after an Exif\\0\\0 prefix applied", a is not None and b is not None
          and np.array_equal(a, tensor(turned)))


PROXY_DECODER = """#!%(python)s
import os, signal, socket, struct, subprocess, time
ours = socket.socket(fileno=3)
helper = None
while True:
    data, fds, _, _ = socket.recv_fds(ours, 88, 1)
    if not data:
        break
    name_bytes = struct.unpack("=I", data[4:8])[0]
    name = b""
    while len(name) < name_bytes:
        name += ours.recv(name_bytes - len(name))
    if b"hang" in name:
        time.sleep(3600)
    if b"crash" in name:
        os.kill(os.getpid(), signal.SIGSEGV)
    if helper is None:
        mine, theirs = socket.socketpair()
        helper = subprocess.Popen(["sh", "-c", 'exec "$0" 3<&%%d' %% theirs.fileno(), "%(helper)s"],
                                  pass_fds=[theirs.fileno()])
        theirs.close()
    socket.send_fds(mine, [data + name], fds)
    head = b""
    while len(head) < 24:
        head += mine.recv(24 - len(head))
    n = struct.unpack("=IIiIII", head)[3]
    body = b""
    while len(body) < n:
        body += mine.recv(n - len(body))
    ours.sendall(head + body)
"""


def test_decoder_processes(model, tmp):
    """A decoder that runs out of memory or time costs its own image only."""
    folder = os.path.join(tmp, "pool")
    os.mkdir(folder)
    for i in range(4):
        write_png(os.path.join(folder, "%d-small.png" % i), 30, 20, seed=20 + i)
    from PIL import Image
    Image.new("L", (3000, 3000)).save(os.path.join(folder, "1-large.png"))
    if not SANITIZED:
        res = expect_json("decoder out of memory", ["classify", "--model", model, "--label", "x", folder],
                          status=3, env={"CLIPSCOPE_DECODE_MEMORY_MB": "40"})
        if res:
            rows = {os.path.basename(r["path"]): r for r in res["images"]}
            check("only the large image failed", "error" in rows["1-large.png"]
                  and "memory" in rows["1-large.png"]["error"]
                  and all("top" in r for n, r in rows.items() if n != "1-large.png"), rows)
    os.remove(os.path.join(folder, "1-large.png"))
    # A helper that hangs on one file and crashes on another, and hands
    # the rest to the real one.
    proxy = os.path.join(tmp, "proxy-decoder")
    with open(proxy, "w") as f:
        f.write(PROXY_DECODER % {"python": sys.executable, "helper": os.environ["CLIPSCOPE_DECODER"]})
    os.chmod(proxy, 0o755)
    for name in ("2-hang.png", "3-crash.png"):
        write_png(os.path.join(folder, name), 20, 20, seed=40)
    res = expect_json("a decoder that hangs or crashes", ["classify", "--model", model, "--label", "x",
                                                          folder], status=3,
                      env={"CLIPSCOPE_DECODE_TIMEOUT": "2", "CLIPSCOPE_DECODER": proxy})
    if res:
        rows = {os.path.basename(r["path"]): r for r in res["images"]}
        check("the hung image timed out", "longer than 2 s" in rows["2-hang.png"].get("error", ""), rows)
        check("the crashed image says so", "crashed" in rows["3-crash.png"].get("error", ""), rows)
        check("the others decoded", all("top" in r for n, r in rows.items() if "small" in n), rows)
    os.remove(os.path.join(folder, "2-hang.png"))
    os.remove(os.path.join(folder, "3-crash.png"))
    a = expect_json("decoded in process", ["embed", "--model", model, "--image",
                                           os.path.join(folder, "0-small.png")],
                    env={"CLIPSCOPE_DECODER": "in-process"})
    b = expect_json("decoded in a helper", ["embed", "--model", model, "--image",
                                            os.path.join(folder, "0-small.png")])
    check("helper and in-process agree", a is not None and b is not None
          and a["images"][0]["embedding"] == b["images"][0]["embedding"])


def test_decoder_sandbox(tmp):
    """The helper runs under a seccomp filter: it cannot open files for
    writing or start programs, and still decodes."""
    import socket
    import struct
    helper = os.environ.get("CLIPSCOPE_DECODER")
    if not helper or not os.path.exists(helper):
        check("decoder helper present", False, helper)
        return
    ours, theirs = socket.socketpair()
    # The helper's socket is its descriptor 3.
    proc = subprocess.Popen(["sh", "-c", 'exec "$0" 3<&%d' % theirs.fileno(), helper],
                            pass_fds=[theirs.fileno()])
    theirs.close()
    def ask(img, kind, box=(0, 0)):
        with open(img, "rb") as f:
            name = img.encode()
            # ClipscopeDecodeRequest: magic, name_bytes, cpu_seconds, kind,
            # max_width, max_height, then ClipscopePreprocessParams (resize,
            # crop, mean, std, max_pixels, composite_alpha, background,
            # ignore_orientation, squash, resample): 24 + 64 bytes.
            params = struct.pack("=ii3f3fqi3Bxiii4x", 16, 16, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25,
                                 10 ** 6, 0, 0, 0, 0, 0, 0, 0)
            head = struct.pack("=IIIIII", 0x31445343, len(name), 10, kind, *box) + params
            ours.sendmsg([head + name], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                          struct.pack("i", f.fileno()))])
        reply = b""
        while len(reply) < 24:
            reply += ours.recv(24 - len(reply))
        magic, ok, code, n, width, height = struct.unpack("=IIiIII", reply)
        payload = b""
        while len(payload) < n:
            payload += ours.recv(n - len(payload))
        return magic, ok, code, n, width, height, payload

    try:
        img = os.path.join(tmp, "sandbox.png")
        write_png(img, 30, 20)
        magic, ok, code, n, _, _, _ = ask(img, 0)
        check("helper decodes", magic == 0x31445343 and ok == 1 and n == 3 * 16 * 16 * 4,
              (magic, ok, code, n))
        # A thumbnail: RGBA, fit in the box, the same pixels as Pillow's
        # at full size where nothing is scaled.
        magic, ok, code, n, width, height, payload = ask(img, 1, (16, 16))
        check("helper makes a thumbnail", ok == 1 and (width, height) == (16, 11)
              and n == 16 * 11 * 4, (ok, code, n, width, height, payload[:200]))
        magic, ok, code, n, width, height, payload = ask(img, 1, (64, 64))
        from PIL import Image
        with Image.open(img) as im:
            want = im.convert("RGBA").tobytes()
        check("a small image's thumbnail is the image", ok == 1 and (width, height) == (30, 20)
              and payload == want, (ok, code, width, height))
        bomb = os.path.join(tmp, "sandbox-bomb.png")
        Image.new("L", (2000, 2000)).save(bomb)
        magic, ok, code, n, width, height, payload = ask(bomb, 1, (64, 64))
        check("a thumbnail of too many pixels is refused", ok == 0 and b"limit" in payload,
              (ok, code, payload))
        with open("/proc/%d/status" % proc.pid) as f:
            status = f.read()
        check("helper is under a seccomp filter", "Seccomp:\t2" in status
              and "NoNewPrivs:\t1" in status, status[-400:])
    finally:
        ours.close()
        proc.wait(timeout=10)
    check("helper ends when its socket closes", proc.returncode == 0, proc.returncode)


def test_decoder_syscalls(model, tmp):
    """The seccomp filter is an allow list: a decoder that makes a system
    call outside it (as an exploited one would) gets an error, its image
    fails with it, and the same helper decodes the others."""
    loader = os.environ.get("CLIPSCOPE_SYSCALL_LOADER")
    system_cache = os.environ.get("CLIPSCOPE_PIXBUF_LOADERS_CACHE")
    if not loader or not os.path.exists(loader) or not system_cache:
        check("system call test loader built", False, loader)
        return
    cache = os.path.join(tmp, "loaders.cache")
    with open(system_cache) as f, open(cache, "w") as out:
        out.write(f.read())
        out.write('\n"%s"\n"clipscope-syscall" 0 "" "test" "LGPL"\n'
                  '"image/x-clipscope-syscall" "text/plain" ""\n"syscall" ""\n"CLIPSCOPE-SYSCALL " "" 100\n\n' % loader)
    folder = os.path.join(tmp, "syscalls")
    os.mkdir(folder)
    calls = ["uname", "socket", "chdir", "fork", "execve", "write-open"]
    for i, call in enumerate(calls):
        with open(os.path.join(folder, "%d-%s.png" % (2 * i, call)), "w") as f:
            f.write("CLIPSCOPE-SYSCALL %s\n" % call)
        write_png(os.path.join(folder, "%d-good.png" % (2 * i + 1)), 20, 20, seed=50 + i)
    res = expect_json("decoders making system calls", ["classify", "--model", model, "--label", "x",
                                                       folder], status=3,
                      env={"GDK_PIXBUF_MODULE_FILE": cache, "CLIPSCOPE_DECODE_WORKERS": "1"})
    if not res:
        return
    rows = {os.path.basename(r["path"]): r for r in res["images"]}
    check("an allowed system call decodes", "top" in rows.get("0-uname.png", {}), rows)
    for i, call in enumerate(calls[1:], 1):
        error = rows.get("%d-%s.png" % (2 * i, call), {}).get("error", "")
        check("%s refused for its image alone" % call, "Operation not permitted" in error, rows)
    check("the other images decoded", all("top" in r for n, r in rows.items() if "good" in n), rows)


def test_sort(model, tmp):
    """sort keeps a journal: a rerun or a resumed run places nothing twice;
    links resolve; links out of a folder and linked label folders are not
    followed; folder names avoid Windows' device names."""
    import base64
    photos = os.path.join(tmp, "sort-photos")
    os.mkdir(photos)
    names = ["a.png", "b.png", "c.png", "d.png"]
    for i, n in enumerate(names):
        write_png(os.path.join(photos, n), 20 + i, 20, seed=30 + i)
    into = os.path.join(tmp, "sort-out")
    sort = ["sort", "--model", model, "--label", "x", "--into", into]

    def placed():
        return sorted(os.path.relpath(os.path.join(d, f), into) for d, _, fs in os.walk(into)
                      for f in fs if not f.startswith("."))
    res = expect_json("sort two files", sort + [os.path.join(photos, "a.png"), os.path.join(photos, "b.png")])
    check("two placed", placed() == ["x/a.png", "x/b.png"], placed())
    # An interrupted third file: recorded as begun, half written.
    journal = os.path.join(into, ".clipscope-sort.journal")
    src = os.path.realpath(os.path.join(photos, "c.png"))
    dest = os.path.join(into, "x", "c.png")
    with open(journal, "a") as f:
        f.write("P\t%s\t%s\t%s\n" % tuple(base64.b64encode(v.encode()).decode()
                                           for v in (src, dest, "x")))
    with open(dest, "wb") as f:
        f.write(b"\x89PNG half")
    res = expect_json("sort resumed", sort + [photos])
    check("resumed without duplicates", placed() == ["x/a.png", "x/b.png", "x/c.png", "x/d.png"], placed())
    if res:
        check("two reported as resumed", res["resumed"] == 2
              and [f.get("resumed", False) for f in res["files"]] == [True, True, False, False], res["files"])
    with open(dest, "rb") as f, open(src, "rb") as g:
        check("the half-written file was placed again", f.read() == g.read())
    res = expect_json("sort again", sort + [photos])
    check("a rerun places nothing", res is not None and res["resumed"] == 4 and placed() == [
        "x/a.png", "x/b.png", "x/c.png", "x/d.png"], res and res["files"])

    # Links: to a relative symbolic link's target.
    os.symlink("a.png", os.path.join(photos, "rel.png"))
    out = os.path.join(tmp, "sort-links")
    res = expect_json("sort --link a relative link", ["sort", "--model", model, "--label", "x", "--link",
                                                      "--into", out, os.path.join(photos, "rel.png")])
    made = os.path.join(out, "x", "rel.png")
    check("hard link to the file itself", not os.path.islink(made)
          and os.stat(made).st_ino == os.stat(os.path.join(photos, "a.png")).st_ino)
    out = os.path.join(tmp, "sort-symlinks")
    res = expect_json("sort --symlink a relative link", ["sort", "--model", model, "--label", "y", "--symlink",
                                                         "--into", out, os.path.join(photos, "rel.png")])
    made = os.path.join(out, "y", "rel.png")
    check("symbolic link resolves", os.path.islink(made) and os.path.isabs(os.readlink(made))
          and os.path.samefile(made, os.path.join(photos, "a.png")))

    # A label folder that links elsewhere is refused.
    elsewhere = os.path.join(tmp, "elsewhere")
    os.mkdir(elsewhere)
    out = os.path.join(tmp, "sort-linked-folder")
    os.mkdir(out)
    os.symlink(elsewhere, os.path.join(out, "x"))
    res = expect_json("sort into a linked folder", ["sort", "--model", model, "--label", "x", "--into", out,
                                                    os.path.join(photos, "a.png")], status=3)
    check("nothing written through the link", os.listdir(elsewhere) == []
          and res is not None and "symbolic link" in res["files"][0]["error"], res)

    # A link in a folder that leads out of it is passed over.
    outside = os.path.join(tmp, "outside")
    os.mkdir(outside)
    write_png(os.path.join(outside, "secret.png"), 20, 20)
    os.symlink(os.path.join(outside, "secret.png"), os.path.join(photos, "secret.png"))
    res = expect_json("classify skips links out of the folder", ["classify", "--model", model, "--label", "x",
                                                                 photos])
    check("link out of the folder passed over, link inside kept", res is not None
          and sorted(os.path.basename(r["path"]) for r in res["images"])
          == ["a.png", "b.png", "c.png", "d.png", "rel.png"], res and res["images"])

    res = expect_json("Windows device names", ["sort", "--model", model, "--label", "CON", "--label", "com1.x",
                                               "--label", "dots...", "--dry-run", "--into",
                                               os.path.join(tmp, "w"), os.path.join(photos, "a.png")])
    if res:
        check("device names and trailing dots avoided",
              [c["label"] for c in res["classifier"]] == ["CON", "com1.x", "dots..."]
              and res["files"][0]["folder"] in ("CON_", "com1.x_", "dots___"), res["files"])


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
        test_truncated(model, tmp)
        test_oversized(model, tmp)
        test_svg(model, tmp)
        test_orientation(model, tmp)
        test_decoder_processes(model, tmp)
        test_decoder_sandbox(tmp)
        test_decoder_syscalls(model, tmp)
        test_sort(model, tmp)
        test_non_utf8_names(model, tmp)
        test_many_images(model, tmp)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("all hostile-input checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
