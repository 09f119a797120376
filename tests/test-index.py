#!/usr/bin/python3
"""`clipscope index`, `search` and `duplicates` on generated images.

Builds an index with a tiny random model, then changes, deletes, moves
and adds files and re-indexes (only what changed may be encoded),
interrupts an index run and resumes it, damages the index file, and
checks every search and duplicate group against brute force in numpy on
the embeddings `clipscope embed` gives and the float16 rows the index
file holds.
"""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tinyclip  # noqa: E402

CLI = os.environ.get("CLIPSCOPE_CLI", "_build/app/clipscope")

failures = []


def check(name, cond, detail=""):
    print(("ok     " if cond else "FAILED ") + name + ("" if cond else ": " + str(detail)[:2000]))
    if not cond:
        failures.append(name)


def run(*args):
    p = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def expect_json(name, args):
    rc, out, err = run(*args)
    if rc != 0:
        check(name, False, "exit %d, stderr %r" % (rc, err))
        return None, err
    try:
        return json.loads(out), err
    except ValueError as e:
        check(name, False, "not JSON: %s" % e)
        return None, err


def expect_error(name, args, status, needles=()):
    rc, out, err = run(*args)
    lines = [l for l in err.splitlines() if l.startswith("clipscope: error: ")]
    check(name, rc == status and len(lines) == 1 and out == "" and all(n in lines[0] for n in needles),
          "exit %d, stderr %r" % (rc, err))


def write_image(path, seed, size=(40, 30)):
    from PIL import Image
    rng = np.random.default_rng(seed)
    w, h = size
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)


def normalise(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


class Index:
    """The index file as the test reads it, with SQLite's own module."""

    def __init__(self, path):
        self.path = path

    def rows(self):
        con = sqlite3.connect(self.path)
        try:
            rows = con.execute("SELECT path, size, mtime, hash, embedding FROM images").fetchall()
        finally:
            con.close()
        return {r[0]: r[1:] for r in rows}

    def embeddings(self):
        rows = self.rows()
        paths = sorted(rows)
        return paths, np.stack([np.frombuffer(rows[p][3], dtype="<f2").astype(np.float32) for p in paths])


class Fixture:
    def __init__(self, tmp):
        self.tmp = tmp
        self.model = os.path.join(tmp, "tiny")
        tinyclip.make_model(self.model, fmt="hf", vision="vit")
        self.photos = os.path.realpath(os.path.join(tmp, "photos"))
        self.index_path = os.path.join(tmp, "data", "clipscope", "index.sqlite")
        self.common = ["--model", self.model, "--backend", "cpu", "--index", self.index_path]
        self.index = Index(self.index_path)

    def embed_images(self, paths):
        out, _ = expect_json("embed oracle", ["embed", "--model", self.model, "--backend", "cpu",
                                              *sum((["--image", p] for p in paths), [])])
        return {e["path"]: np.array(e["embedding"], dtype=np.float32) for e in out["images"]}

    def embed_texts(self, texts):
        out, _ = expect_json("embed texts", ["embed", "--model", self.model, "--backend", "cpu",
                                             *sum((["--text", t] for t in texts), [])])
        return np.array([e["embedding"] for e in out["texts"]], dtype=np.float32)

    def index_run(self, name, *folders):
        out, err = expect_json(name, ["index", *self.common, *folders])
        return out or {}, err

    def images_on_disk(self):
        found = []
        for root, dirs, files in os.walk(self.photos):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            found += [os.path.join(root, f) for f in files
                      if not f.startswith(".") and f.endswith(".png") and "broken" not in f]
        return sorted(found)


def test_build(fx):
    for i in range(20):
        write_image(os.path.join(fx.photos, "a" if i % 2 else "b", "img%02d.png" % i), seed=i)
    write_image(os.path.join(fx.photos, "b", "deep", "er", "nested.png"), seed=100)
    write_image(os.path.join(fx.photos, ".hidden", "skip.png"), seed=101)
    write_image(os.path.join(fx.photos, "a", ".skip.png"), seed=102)
    with open(os.path.join(fx.photos, "a", "notes.txt"), "w") as f:
        f.write("not an image")
    with open(os.path.join(fx.photos, "a", "broken.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\nnot really")

    res, err = fx.index_run("index builds", fx.photos)
    on_disk = fx.images_on_disk()
    check("index counts", res.get("found") == 22 and res.get("encoded") == 21
          and res.get("unchanged") == 0 and res.get("images") == 21, res)
    failed = res.get("failed", [])
    check("a broken image is listed, not fatal",
          len(failed) == 1 and failed[0]["path"] == os.path.join(fx.photos, "a", "broken.png")
          and "broken.png" in failed[0]["error"] and "broken.png" in err, res)

    rows = fx.index.rows()
    check("one row per image, absolute paths", sorted(rows) == on_disk, sorted(rows))
    con = sqlite3.connect(fx.index_path)
    mode = con.execute("PRAGMA journal_mode").fetchone()[0]
    con.close()
    check("WAL mode", mode == "wal", mode)

    oracle = fx.embed_images(on_disk)
    paths, stored = fx.index.embeddings()
    exact = np.stack([oracle[p] for p in paths])
    check("embeddings stored as float16 of embed's",
          np.abs(stored - exact.astype(np.float16).astype(np.float32)).max() <= 1e-3
          and np.abs(stored - exact).max() < 2e-3, np.abs(stored - exact).max())
    for p in paths[:3]:
        import hashlib
        with open(p, "rb") as f:
            digest = hashlib.sha256(f.read()).digest()
        st = os.stat(p)
        row = rows[p]
        check("row of %s: size, mtime, hash" % os.path.basename(p),
              row[0] == st.st_size and row[1] == st.st_mtime_ns and row[2] == digest, row[:3])

    res, _ = fx.index_run("index again", fx.photos)
    check("nothing changed, nothing encoded", res.get("encoded") == 0 and res.get("unchanged") == 21
          and res.get("reused") == 0 and res.get("removed") == 0, res)


def search(fx, name, args):
    out, _ = expect_json(name, ["search", *fx.common, *args])
    return out


def check_ranking(fx, name, out, query, within=None, top=None):
    paths, stored = fx.index.embeddings()
    scores = stored @ query
    order = sorted(range(len(paths)), key=lambda i: (-scores[i], paths[i]))
    if within is not None:
        order = [i for i in order if paths[i].startswith(within + "/")]
    if top:
        order = order[:top]
    got = [(r["path"], r["score"]) for r in (out or {}).get("results", [])]
    want = [(paths[i], float(scores[i])) for i in order]
    same_paths = [g[0] for g in got] == [w[0] for w in want]
    close = len(got) == len(want) and all(abs(g[1] - w[1]) < 1e-5 for g, w in zip(got, want))
    check(name, same_paths and close, "got %s\nwant %s" % (got[:5], want[:5]))


def test_search(fx):
    q = fx.embed_texts(["a red square"])[0]
    out = search(fx, "search text", ["a red square", "--top", "0"])
    check_ranking(fx, "search text matches brute force", out, q)
    check("search echoes its query", out and out["texts"] == ["a red square"] and out["templates"] == []
          and out["images"] == [], out and {k: out[k] for k in ("texts", "images", "templates")})

    out = search(fx, "search --top", ["a red square", "--top", "5"])
    check_ranking(fx, "search --top 5 is the head", out, q, top=5)
    out = search(fx, "search default top", ["a red square"])
    check("default top is 20", out is not None and len(out["results"]) == 20, out and len(out["results"]))

    sub = os.path.join(fx.photos, "b")
    out = search(fx, "search --in", ["a red square", "--top", "0", "--in", sub])
    check_ranking(fx, "search --in keeps the folder", out, q, within=sub)

    # Several texts with templates, and example images: each text is
    # ensembled over the templates, then all parts are averaged.
    templates = ["a photo of {}.", "a drawing of {}."]
    texts = ["a cat", "a dog"]
    examples = [os.path.join(fx.photos, "a", "img01.png"), os.path.join(fx.photos, "b", "img04.png")]
    t = fx.embed_texts([tp.replace("{}", x) for x in texts for tp in templates]).reshape(2, 2, -1)
    parts = list(normalise(normalise(t).mean(axis=1)))
    img = fx.embed_images(examples)
    parts += [img[p] for p in examples]
    query = normalise(np.mean(parts, axis=0))
    args = [*texts, *sum((["--template", tp] for tp in templates), []),
            *sum((["--image", p] for p in examples), []), "--top", "0"]
    out = search(fx, "search texts, templates and images", args)
    check_ranking(fx, "combined query matches brute force", out, query)
    out = search(fx, "search by image alone", ["--image", examples[0], "--top", "1"])
    check("image query: itself, cosine ≈ 1", out and out["results"][0]["path"] == examples[0]
          and out["results"][0]["score"] > 0.999, out)


def rewrite(path, seed):
    st = os.stat(path)
    write_image(path, seed)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_incremental(fx):
    a = os.path.join(fx.photos, "a")
    b = os.path.join(fx.photos, "b")
    before = fx.index.rows()
    rewrite(os.path.join(a, "img01.png"), seed=201)           # changed
    rewrite(os.path.join(b, "img02.png"), seed=202)           # changed
    os.remove(os.path.join(a, "img03.png"))                   # deleted
    os.remove(os.path.join(b, "img04.png"))                   # deleted
    shutil.move(os.path.join(a, "img05.png"), os.path.join(b, "moved.png"))   # moved
    st = os.stat(os.path.join(b, "img06.png"))
    os.utime(os.path.join(b, "img06.png"), ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # touched
    for i in range(3):
        write_image(os.path.join(fx.photos, "new", "n%d.png" % i), seed=300 + i)   # added

    res, _ = fx.index_run("re-index", fx.photos)
    check("only the changed and new images are encoded",
          res.get("encoded") == 5 and res.get("reused") == 2 and res.get("removed") == 3
          and res.get("unchanged") == 15 and res.get("images") == 21 + 3 - 2, res)
    after = fx.index.rows()
    on_disk = fx.images_on_disk()
    check("rows follow the disk", sorted(after) == on_disk,
          set(after) ^ set(on_disk))
    untouched = [p for p in on_disk if p in before and os.path.basename(p) not in
                 ("img01.png", "img02.png", "img06.png")]
    check("unchanged rows kept as they were", all(after[p] == before[p] for p in untouched))
    check("a moved file keeps its embedding",
          after[os.path.join(b, "moved.png")][3] == before[os.path.join(a, "img05.png")][3])
    check("a touched file keeps its embedding, with its new time",
          after[os.path.join(b, "img06.png")][3] == before[os.path.join(b, "img06.png")][3]
          and after[os.path.join(b, "img06.png")][1] == os.stat(os.path.join(b, "img06.png")).st_mtime_ns)

    oracle = fx.embed_images(on_disk)
    paths, stored = fx.index.embeddings()
    check("changed images have their new embeddings",
          np.abs(stored - np.stack([oracle[p] for p in paths])).max() < 2e-3)

    # A folder given on its own forgets only what is gone under it.
    os.remove(os.path.join(fx.photos, "new", "n0.png"))
    res, _ = fx.index_run("index one sub-folder", os.path.join(fx.photos, "new"))
    check("sub-folder update", res.get("found") == 2 and res.get("removed") == 1
          and res.get("encoded") == 0 and res.get("images") == 21, res)


def test_interrupt(fx):
    big = os.path.join(fx.tmp, "big")
    from PIL import Image
    os.makedirs(big)
    base = np.random.default_rng(7).integers(0, 256, (600, 800, 3), dtype=np.uint8)
    n = 240
    for i in range(n):
        img = base.copy()
        img[i % 600, :, :] = i % 256
        Image.fromarray(img).save(os.path.join(big, "p%03d.png" % i), compress_level=1)
    index_path = os.path.join(fx.tmp, "interrupted.sqlite")
    args = [CLI, "index", "--model", fx.model, "--backend", "cpu", "--index", index_path, "--batch", "4", big]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = p.stderr.readline()          # the first progress line: a batch is committed
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    err = first + err
    kept = len(Index(index_path).rows())
    check("Ctrl-C stops the run with an error", p.returncode == 1 and out == ""
          and "interrupted" in err and "clipscope: indexed" in first, "exit %s, %r" % (p.returncode, err))
    check("what was indexed is kept", 0 < kept < n, kept)

    res, _ = expect_json("resume", ["index", "--model", fx.model, "--backend", "cpu",
                                    "--index", index_path, big])
    check("the next run encodes only the rest", res is not None and res["encoded"] == n - kept
          and res["unchanged"] == kept and res["images"] == n, (res, kept))


def groups_by_brute_force(fx, threshold):
    rows = fx.index.rows()
    paths, stored = fx.index.embeddings()
    parent = list(range(len(paths)))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    sim = stored @ stored.T
    for i in range(len(paths)):
        for j in range(i + 1, len(paths)):
            if sim[i, j] >= threshold or rows[paths[i]][2] == rows[paths[j]][2]:
                ri, rj = root(i), root(j)
                parent[max(ri, rj)] = min(ri, rj)
    groups = {}
    for i in range(len(paths)):
        groups.setdefault(root(i), []).append(paths[i])
    return [g for _, g in sorted(groups.items()) if len(g) > 1]


def test_duplicates(fx):
    from PIL import Image
    d = os.path.join(fx.photos, "dups")
    os.makedirs(d)
    src = os.path.join(fx.photos, "a", "img07.png")
    shutil.copy(src, os.path.join(d, "copy.png"))
    shutil.copy(src, os.path.join(d, "copy2.png"))
    img = np.array(Image.open(src))
    img[0, 0] ^= 1
    Image.fromarray(img).save(os.path.join(d, "one-pixel.png"))
    fx.index_run("index duplicates", fx.photos)

    for threshold in (0.999, 0.99, 0.9):
        out, _ = expect_json("duplicates %g" % threshold,
                             ["duplicates", *fx.common, "--threshold", str(threshold)])
        got = [g["paths"] for g in (out or {}).get("groups", [])]
        want = groups_by_brute_force(fx, threshold)
        check("duplicates at %g match brute force" % threshold, got == want, (got, want))
    out, _ = expect_json("duplicates default", ["duplicates", *fx.common])
    check("a copy and a one-pixel edit group with the original",
          out and any({src, os.path.join(d, "copy.png"), os.path.join(d, "one-pixel.png")} <= set(g["paths"])
                      for g in out["groups"]), out)
    out, _ = expect_json("duplicates --in", ["duplicates", *fx.common, "--threshold", "1", "--in", d])
    copies = {os.path.join(d, "copy.png"), os.path.join(d, "copy2.png")}
    check("identical bytes group at any threshold, --in keeps to the folder",
          out and any(copies <= set(g["paths"]) for g in out["groups"])
          and all(p.startswith(d + "/") for g in out["groups"] for p in g["paths"]), out)


def test_damaged(fx):
    photos = fx.photos
    good = len(fx.index.rows())
    # Garbage in place of the file.
    with open(fx.index_path, "r+b") as f:
        f.write(b"this is not a database" * 300)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(fx.index_path + suffix):
            os.remove(fx.index_path + suffix)
    rc, out, err = run("search", *fx.common, "anything")
    check("a corrupt index is reported and made anew",
          rc == 0 and "warning" in err and "made anew" in err and json.loads(out)["results"] == [],
          "exit %d, %r" % (rc, err))
    res, _ = fx.index_run("rebuild after corruption", photos)
    check("rebuilt in full", res.get("encoded", 0) > 0 and res.get("images") == good, res)

    # A page damaged in the middle of a valid file.
    con = sqlite3.connect(fx.index_path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    size = os.path.getsize(fx.index_path)
    with open(fx.index_path, "r+b") as f:
        f.seek(size // 2)
        f.write(os.urandom(8192))
    rc, out, err = run("search", *fx.common, "anything")
    check("a damaged page is reported and made anew", rc == 0 and "made anew" in err,
          "exit %d, %r" % (rc, err))

    # Another program's SQLite file.
    os.remove(fx.index_path)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(fx.index_path + suffix):
            os.remove(fx.index_path + suffix)
    con = sqlite3.connect(fx.index_path)
    con.execute("CREATE TABLE images (id INTEGER)")
    con.commit()
    con.close()
    rc, out, err = run("search", *fx.common, "anything")
    check("a foreign SQLite file is reported and made anew", rc == 0 and "made anew" in err, err)
    fx.index_run("rebuild after foreign", photos)

    # An index of another model is never mixed in.
    other = os.path.join(fx.tmp, "other")
    tinyclip.make_model(other, fmt="hf", vision="vit", seed=5)
    rc, out, err = run("search", "--model", other, "--backend", "cpu", "--index", fx.index_path, "x")
    check("another model's index is not used", rc == 0 and "another model" in err
          and json.loads(out)["results"] == [], err)
    rc, out, err = run("search", *fx.common, "x")
    check("and then it belongs to the other model", rc == 0 and "another model" in err, err)


def test_errors(fx):
    expect_error("index of a missing folder", ["index", *fx.common, os.path.join(fx.tmp, "nope")], 1,
                 ["nope"])
    expect_error("index without folders", ["index", *fx.common], 2)
    expect_error("search without a query", ["search", *fx.common], 2)
    expect_error("search --top -1", ["search", *fx.common, "x", "--top", "-1"], 2)
    expect_error("search with a bad template", ["search", *fx.common, "x", "--template", "no hole"], 2)
    expect_error("search with a missing example", ["search", *fx.common, "--image",
                                                   os.path.join(fx.tmp, "none.png")], 1, ["none.png"])
    expect_error("duplicates --threshold 2", ["duplicates", *fx.common, "--threshold", "2"], 2)
    blocked = os.path.join(fx.tmp, "blocked")
    with open(blocked, "w") as f:
        f.write("a file where the index folder would go")
    expect_error("an index that cannot be created", ["search", "--model", fx.model, "--index",
                                                     os.path.join(blocked, "i.sqlite"), "x"], 1,
                 ["blocked"])


def test_default_location(fx):
    env = dict(os.environ, XDG_DATA_HOME=os.path.join(fx.tmp, "xdg"))
    p = subprocess.run([CLI, "index", "--model", fx.model, "--backend", "cpu",
                        os.path.join(fx.photos, "new")], capture_output=True, text=True, env=env)
    res = json.loads(p.stdout) if p.returncode == 0 else {}
    where = res.get("index", "")
    check("default index under $XDG_DATA_HOME/clipscope/index",
          where.startswith(os.path.join(fx.tmp, "xdg", "clipscope", "index", "tiny-"))
          and where.endswith(".sqlite") and os.path.exists(where), (p.stderr, res))


def main():
    if not os.path.exists(CLI):
        print("FAILED: no clipscope binary at %s" % CLI)
        return 1
    with tempfile.TemporaryDirectory(prefix="clipscope-index-") as tmp:
        fx = Fixture(tmp)
        test_build(fx)
        test_search(fx)
        test_incremental(fx)
        test_duplicates(fx)
        test_interrupt(fx)
        test_damaged(fx)
        test_errors(fx)
        test_default_location(fx)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("all index checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
