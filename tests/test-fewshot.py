#!/usr/bin/python3
"""Few-shot classification, linear probes, thresholds and sorting.

The engine's linear probe is checked against a reference multinomial
logistic regression solved here by Newton's method on synthetic
embeddings; `clipscope classify --examples` is checked on a task where the
tiny random model's zero-shot classifier fails by construction; the
per-template cosines against NumPy on the model's own embeddings; and
`clipscope sort` on disk.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tinyclip  # noqa: E402

CLI = os.environ.get("CLIPSCOPE_CLI", "_build/app/clipscope")
PROBE_FIT = os.environ.get("CLIPSCOPE_PROBE_FIT", "_build/tests/probe-fit")
SEED = 7

failures = []


def check(name, cond, detail=""):
    print(("ok     " if cond else "FAILED ") + name + ("" if cond else ": " + detail))
    if not cond:
        failures.append(name)


# ------------------------------------------------------------ the probe

def reference_probe(x, y, k, c, iterations=50):
    """Minimises C Σ v_i cross-entropy_i + ½‖W‖² (bias unpenalised, v_i =
    n / (k n_{y_i}) as scikit-learn's class_weight="balanced") by Newton's
    method with a backtracking line search; returns W [k, d], b [k]."""
    n, d = x.shape
    xt = np.hstack([x, np.ones((n, 1))]).astype(np.float64)
    onehot = np.eye(k)[y]
    v = (n / (k * np.bincount(y, minlength=k)))[y][:, None]
    penalty = np.zeros((k, d + 1))
    penalty[:, :d] = 1.0

    def loss(theta):
        z = xt @ theta.T
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -c * (v * onehot * logp).sum() + 0.5 * (penalty * theta * theta).sum(), np.exp(logp)

    theta = np.zeros((k, d + 1))
    for _ in range(iterations):
        f, p = loss(theta)
        grad = c * (v * (p - onehot)).T @ xt + penalty * theta
        if np.abs(grad).max() < 1e-11:
            break
        a = np.einsum("ia,ab->iab", p, np.eye(k)) - np.einsum("ia,ib->iab", p, p)
        hess = c * np.einsum("i,iab,ij,il->ajbl", v[:, 0], a, xt, xt).reshape(k * (d + 1), -1)
        hess += np.diag(penalty.ravel())
        # Shifting every bias alike changes nothing: the Hessian is
        # singular there, and the least-squares step leaves that alone.
        step = -np.linalg.lstsq(hess, grad.ravel(), rcond=None)[0].reshape(k, d + 1)
        t = 1.0
        while loss(theta + t * step)[0] > f + 1e-4 * t * (grad * step).sum() and t > 1e-10:
            t *= 0.5
        theta = theta + t * step
    w, b = theta[:, :d], theta[:, d]
    return w, b - b.mean()


def reference_leave_one_out(x, y, k, c):
    keep = np.ones(len(y), bool)
    predicted = []
    for i in range(len(y)):
        keep[i] = False
        w, b = reference_probe(x[keep], y[keep], k, c)
        predicted.append(int(np.argmax(w @ x[i] + b)))
        keep[i] = True
    return np.array(predicted)


def synthetic_task(rng, k, d, spread):
    """Draws unit vectors around k class centres that share a common
    direction, as CLIP image embeddings of one domain do."""
    centres = rng.normal(size=d) + rng.normal(size=(k, d))

    def draw(counts):
        y = np.repeat(np.arange(k), counts)
        x = centres[y] + spread * rng.normal(size=(len(y), d))
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), y
    return draw


def run_probe_fit(x, y, k, c):
    n, d = x.shape
    data = "%d %d %d %r\n" % (n, d, k, c)
    data += " ".join("%.9g" % v for v in x.ravel()) + "\n" + " ".join(str(v) for v in y) + "\n"
    p = subprocess.run([PROBE_FIT], input=data, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        print(p.stderr)
        return None
    lines = p.stdout.splitlines()
    w = np.array([[float(v) for v in line.split()] for line in lines[1:1 + k]])
    b = np.array([float(v) for v in lines[1 + k].split()])
    loo = np.array([int(v) for v in lines[2 + k].split()[1:]])
    return {"iterations": int(lines[0].split()[1]), "w": w, "b": b, "loo": loo,
            "ms": float(lines[3 + k].split()[1])}


def test_probe_against_reference():
    """Same weights, same predictions on held-out embeddings, accuracy
    within 1 %, on balanced and unbalanced examples."""
    rng = np.random.default_rng(SEED)
    k, d = 5, 32
    for c, spread, counts in ((1.0, 2.0, 12), (0.1, 2.0, 12), (10.0, 2.5, [4, 20, 9, 2, 12])):
        name = "probe C=%g" % c
        draw = synthetic_task(rng, k, d, spread)
        x, y = draw(counts)
        xtest, ytest = draw(400)
        got = run_probe_fit(x, y, k, c)
        if got is None:
            check(name + " trains", False)
            continue
        w, b = reference_probe(x.astype(np.float64), y, k, c)
        scale = max(np.abs(w).max(), 1)
        check(name + " weights", np.abs(got["w"] - w).max() < 1e-4 * scale,
              "max difference %g, largest weight %g" % (np.abs(got["w"] - w).max(), scale))
        check(name + " bias", np.abs(got["b"] - b).max() < 1e-4 * scale,
              "max difference %g" % np.abs(got["b"] - b).max())
        ours = np.argmax(xtest @ got["w"].T + got["b"], axis=1)
        theirs = np.argmax(xtest @ w.T + b, axis=1)
        acc_ours, acc_theirs = (ours == ytest).mean(), (theirs == ytest).mean()
        print("# %s: %d iterations, %.2f ms; held-out accuracy %.4f (reference %.4f)"
              % (name, got["iterations"], got["ms"], acc_ours, acc_theirs))
        check(name + " predictions", (ours == theirs).mean() >= 0.99 and abs(acc_ours - acc_theirs) <= 0.01,
              "%.4f agree; accuracy %.4f vs %.4f" % ((ours == theirs).mean(), acc_ours, acc_theirs))
        check(name + " learns", acc_ours > 2.0 / k, "held-out accuracy %.3f" % acc_ours)

    # Leave-one-out, retrained from scratch here, on a small problem.
    draw = synthetic_task(rng, 3, 8, 1.5)
    x, y = draw([3, 5, 4])
    got = run_probe_fit(x, y, 3, 1.0)
    ref = reference_leave_one_out(x.astype(np.float64), y, 3, 1.0)
    check("probe leave-one-out", got is not None and list(got["loo"]) == list(ref)
          and 0 < (ref == y).mean() < 1, "%s vs %s" % (got and list(got["loo"]), list(ref)))


# ------------------------------------------------------- the CLI, end to end

def run(*args):
    p = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def expect_json(name, args):
    rc, out, err = run(*args)
    if rc != 0:
        check(name, False, "exit %d, stderr %r" % (rc, err))
        return None
    return json.loads(out)


def expect_error(name, args, status, needles=()):
    rc, out, err = run(*args)
    lines = [line for line in err.splitlines() if line.startswith("clipscope: error: ")]
    ok = rc == status and len(lines) == 1 and out == "" and all(n in lines[0] for n in needles)
    check(name, ok, "exit %d, stderr %r" % (rc, err))


def class_image(cls, rng, w=48, h=40):
    """An image of one of four visually distinct classes, jittered: red,
    blue, light over dark, a green and yellow checkerboard."""
    from PIL import Image
    yy, xx = np.mgrid[0:h, 0:w]
    jitter = rng.integers(-30, 31, size=3)
    if cls == 0:
        img = np.broadcast_to(np.array([220, 30, 30]) + jitter, (h, w, 3)).astype(float)
    elif cls == 1:
        img = np.broadcast_to(np.array([30, 40, 220]) + jitter, (h, w, 3)).astype(float)
    elif cls == 2:
        on = yy < h // 2 + rng.integers(-3, 4)
        img = np.where(on[..., None], 240.0, 15.0) * np.ones(3)
    else:
        size, dx, dy = 8, rng.integers(0, 8), rng.integers(0, 8)
        on = (((xx + dx) // size) + ((yy + dy) // size)) % 2 == 0
        img = np.where(on[..., None], np.array([40, 200, 40]), np.array([230, 230, 40])).astype(float)
    img = img + rng.normal(0, 12, size=(h, w, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def make_images(tmp):
    """Three examples and six held-out images of each class, in tmp."""
    rng = np.random.default_rng(SEED)
    examples, held_out = [], []
    for cls in range(4):
        folder = os.path.join(tmp, "examples-%d" % cls)
        os.makedirs(folder)
        for i in range(3):
            class_image(cls, rng).save(os.path.join(folder, "ex%d.png" % i))
        examples.append(folder)
        for i in range(6):
            path = os.path.join(tmp, "test-%d-%d.png" % (cls, i))
            class_image(cls, rng).save(path)
            held_out.append((path, cls))
    return examples, held_out


def accuracy(res, truth, names):
    return np.mean([img["top"] == names[cls] for img, (_, cls) in zip(res["images"], truth)])


def test_few_shot(model, tmp):
    """The random model's text tower knows nothing of these images, so
    zero-shot is at chance at best; the label names are then assigned to
    the classes the way zero-shot gets most wrong. A few examples a class
    must fix that, for prototypes and for the probe."""
    examples, held_out = make_images(tmp)
    words = ["alpha", "beta", "gamma", "delta"]
    labels = sum((["--label", w] for w in words), [])
    paths = [p for p, _ in held_out]
    zero = expect_json("zero-shot", ["classify", "--model", model, *labels, *paths])
    if zero is None:
        return
    tops = [img["top"] for img in zero["images"]]
    import itertools
    names = min(itertools.permutations(words),
                key=lambda perm: sum(t == perm[cls] for t, (_, cls) in zip(tops, held_out)))
    zero_acc = accuracy(zero, held_out, names)
    check("zero-shot fails", zero_acc <= 0.35, "accuracy %.2f" % zero_acc)
    check("zero-shot modes", [c["mode"] for c in zero["classifier"]] == ["zero-shot"] * 4
          and "leave_one_out_accuracy" not in zero, str(zero.get("classifier")))

    ex_args = sum((["--examples", "%s=%s" % (names[cls], examples[cls])] for cls in range(4)), [])
    proto = expect_json("prototype", ["classify", "--model", model, *labels, *ex_args, *paths])
    probe = expect_json("probe", ["classify", "--model", model, *labels, *ex_args, "--probe", *paths])
    if proto is None or probe is None:
        return
    proto_acc, probe_acc = accuracy(proto, held_out, names), accuracy(probe, held_out, names)
    print("# held-out accuracy: zero-shot %.2f, prototype %.2f, probe %.2f; leave-one-out %.2f, %.2f"
          % (zero_acc, proto_acc, probe_acc, proto["leave_one_out_accuracy"],
             probe["leave_one_out_accuracy"]))
    check("prototype accuracy", proto_acc >= 0.9, "%.2f" % proto_acc)
    check("probe accuracy", probe_acc >= 0.9, "%.2f" % probe_acc)
    check("prototype modes", all(c["mode"] == "prototype" and len(c["examples"]) == 3
                                 and c["examples"] == sorted(c["examples"])
                                 for c in proto["classifier"]), str(proto["classifier"]))
    check("probe modes", all(c["mode"] == "probe" for c in probe["classifier"]))
    check("leave-one-out reported", 0.5 <= proto["leave_one_out_accuracy"] <= 1
          and all(c["leave_one_out_accuracy"] is not None for c in probe["classifier"]))
    row = probe["images"][0]
    check("probe probabilities", abs(sum(row["probabilities"]) - 1) < 1e-5
          and row["top"] == words[int(np.argmax(row["probabilities"]))])

    # The weight: 0 is zero-shot exactly; one label with examples, one mode each.
    w0 = expect_json("weight 0", ["classify", "--model", model, *labels, *ex_args,
                                  "--example-weight", "0", *paths])
    check("weight 0 is zero-shot", w0 is not None and all(
        np.allclose(a["similarity"], b["similarity"], atol=1e-6)
        for a, b in zip(w0["images"], zero["images"])))
    one = expect_json("one label with examples", ["classify", "--model", model, *labels,
                                                  "--examples", "%s=%s" % (names[0], examples[0]),
                                                  *paths[:2]])
    if one:
        modes = {c["label"]: c["mode"] for c in one["classifier"]}
        check("modes per label", modes[names[0]] == "prototype"
              and sorted(modes.values()).count("zero-shot") == 3, str(modes))
    # Single files, and an "=" inside a label.
    files = sorted(os.path.join(examples[0], f) for f in os.listdir(examples[0]))
    res = expect_json("LABEL=FILE", ["classify", "--model", model, "--label", "a=b", "--label", "c",
                                     "--examples", "a=b=" + files[0], "--examples", "a=b=" + files[1],
                                     paths[0]])
    check("LABEL=FILE examples", res is not None and res["classifier"][0]["examples"] == files[:2])


def test_per_template(model, tmp):
    """Each template's cosine and the leave-one-out ensembles, against
    NumPy on the model's own embeddings."""
    img = os.path.join(tmp, "per-template.png")
    class_image(2, np.random.default_rng(SEED)).save(img)
    templates = ["a photo of a {}.", "a drawing of a {}.", "{}", "itap of the {}"]
    labels = ["cat", "dog"]
    t_args = sum((["--template", t] for t in templates), [])
    res = expect_json("per-template", ["classify", "--model", model, "--label", labels[0],
                                       "--label", labels[1], *t_args, "--per-template", img])
    texts = [t.replace("{}", label) for label in labels for t in templates]
    emb = expect_json("embed texts", ["embed", "--model", model, "--image", img,
                                      *sum((["--text", t] for t in texts), [])])
    if res is None or emb is None:
        return
    x = np.array(emb["images"][0]["embedding"])
    t = np.array([e["embedding"] for e in emb["texts"]]).reshape(len(labels), len(templates), -1)
    ok = True
    for j in range(len(labels)):
        got = res["images"][0]["per_template"][j]
        cosines = t[j] @ x
        without = []
        for k in range(len(templates)):
            rest = np.delete(t[j], k, axis=0).mean(axis=0)
            without.append(rest @ x / np.linalg.norm(rest))
        ens = t[j].mean(axis=0)
        ok &= np.allclose(got["cosines"], cosines, atol=1e-5)
        ok &= np.allclose(got["without"], without, atol=1e-5)
        ok &= abs(got["ensemble"] - ens @ x / np.linalg.norm(ens)) < 1e-5
        ok &= abs(got["ensemble"] - res["images"][0]["similarity"][j]) < 1e-5
    check("per-template values", ok, json.dumps(res["images"][0]["per_template"])[:300])
    one = expect_json("per-template, one template", ["classify", "--model", model, "--label", "cat",
                                                     "--per-template", img])
    check("one template leaves no ensemble", one is not None
          and one["images"][0]["per_template"][0]["without"] == [None])


def tree(root):
    """Every path under root with its bytes, or its link target."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                out[path] = "-> " + os.readlink(path)
            elif os.path.isfile(path):
                with open(path, "rb") as f:
                    out[path] = f.read()
            else:
                out[path] = "dir"
    return out


def test_threshold(model, tmp):
    _, held_out = make_images(os.path.join(tmp, "threshold"))
    paths = [p for p, _ in held_out][::4]
    args = ["classify", "--model", model, "--label", "red", "--label", "blue", *paths]
    plain = expect_json("no threshold", args)
    if plain is None:
        return
    best = sorted(max(img["similarity"]) for img in plain["images"])
    cut = (best[len(best) // 2 - 1] + best[len(best) // 2]) / 2
    res = expect_json("threshold", args + ["--threshold", repr(cut)])
    if res is None:
        return
    ok = res["threshold"] == cut and "unclassified" not in plain["images"][0]
    for a, b in zip(plain["images"], res["images"]):
        below = max(a["similarity"]) < cut
        ok &= b["unclassified"] == below and b["top"] == (None if below else a["top"])
        ok &= b["probabilities"] == a["probabilities"]
    check("threshold marks unclassified", ok and sum(i["unclassified"] for i in res["images"]) == len(best) // 2,
          json.dumps(res["images"])[:300])


def test_sort(model, tmp):
    root = os.path.join(tmp, "sort")
    src = os.path.join(root, "in")
    other = os.path.join(root, "other")
    os.makedirs(src)
    os.makedirs(other)
    rng = np.random.default_rng(SEED)
    for i in range(3):
        class_image(0, rng).save(os.path.join(src, "r%d.png" % i))
        class_image(1, rng).save(os.path.join(src, "b%d.png" % i))
    class_image(1, rng).save(os.path.join(other, "r0.png"))      # the same name again
    with open(os.path.join(src, "notes.txt"), "w") as f:
        f.write("not an image\n")
    out = os.path.join(root, "out")
    os.makedirs(os.path.join(out, "___x"))
    class_image(0, rng).save(os.path.join(out, "___x", "r0.png"))  # already there: never replaced
    labels = ["--label", "../x", "--label", "a/b"]
    ex = ["--examples", "../x=" + os.path.join(src, "r0.png"), "--examples",
          "a/b=" + os.path.join(src, "b0.png")]
    before = tree(root)
    args = ["sort", "--model", model, *labels, *ex, "--into", out, src, os.path.join(other, "r0.png")]
    dry = expect_json("sort --dry-run", args + ["--dry-run"])
    check("dry run touches nothing", tree(root) == before)
    if dry is None:
        return
    folders = {f["path"]: f["folder"] for f in dry["files"]}
    check("sort reads the folder's images only", len(dry["files"]) == 7
          and not any(p.endswith(".txt") for p in folders), str(folders))
    check("safe folder names", set(folders.values()) <= {"___x", "a_b"}
          and folders[os.path.join(src, "r1.png")] == "___x"
          and folders[os.path.join(src, "b1.png")] == "a_b", str(folders))

    real = expect_json("sort --copy", args + ["--copy"])
    if real is None:
        return
    check("dry run plans what is done", [f["destination"] for f in real["files"]]
          == [f["destination"] for f in dry["files"]] and real["dry_run"] is False)
    after = tree(root)
    created = {p for p in after if p not in before}
    inside = all(os.path.realpath(p).startswith(os.path.realpath(out) + os.sep) for p in created)
    copies = all(after[f["destination"]] == before[f["path"]] for f in real["files"])
    check("copies inside OUTDIR", inside and copies and len(set(f["destination"] for f in real["files"])) == 7)
    check("nothing replaced", all(after[p] == before[p] for p in before))
    dests = sorted(os.path.basename(f["destination"]) for f in real["files"]
                   if os.path.basename(f["path"]) == "r0.png")
    check("name collisions get suffixes", dests == ["r0-2.png", "r0-3.png"]
          or dests == ["r0-2.png", "r0.png"], str(dests))
    check("folder counts", sum(real["folders"].values()) == 7, str(real["folders"]))

    for flag, same in (("--link", lambda a, b: os.stat(a).st_ino == os.stat(b).st_ino),
                       ("--symlink", lambda a, b: os.readlink(b) == os.path.abspath(a))):
        res = expect_json("sort " + flag, ["sort", "--model", model, *labels, *ex,
                                           "--into", os.path.join(root, flag[2:]), flag, src])
        check("sort " + flag + " result", res is not None and all(same(f["path"], f["destination"])
                                                                 for f in res["files"]))

    res = expect_json("sort --threshold", ["sort", "--model", model, *labels, "--threshold", "1",
                                           "--into", os.path.join(root, "none"), src])
    check("below the threshold: unclassified", res is not None and all(
        f["top"] is None and f["folder"] == "unclassified"
        and os.path.dirname(f["destination"]) == os.path.join(root, "none", "unclassified")
        for f in res["files"]) and res["folders"] == {"unclassified": 6}, str(res and res["folders"]))


def test_errors(model, tmp):
    img = os.path.join(tmp, "errors.png")
    class_image(0, np.random.default_rng(1)).save(img)
    base = ["classify", "--model", model, "--label", "red", "--label", "blue"]
    missing = os.path.join(tmp, "no-such-folder")
    expect_error("missing examples folder", base + ["--examples", "red=" + missing, img], 1,
                 ["no-such-folder"])
    empty = os.path.join(tmp, "empty-folder")
    os.mkdir(empty)
    expect_error("folder without images", base + ["--examples", "red=" + empty, img], 1,
                 ["empty-folder", "no images"])
    junk = os.path.join(tmp, "junk.png")
    with open(junk, "wb") as f:
        f.write(np.random.default_rng(2).bytes(500))
    expect_error("unreadable example image", base + ["--examples", "red=" + junk, img], 1, ["junk.png"])
    expect_error("too few examples for --probe", base + ["--examples", "red=" + img, "--examples",
                                                         "red=" + img, "--examples", "blue=" + img,
                                                         "--probe", img], 1, ["\"blue\"", "1 example"])
    expect_error("--probe without examples", base + ["--probe", img], 1, ["\"red\"", "0 examples"])
    expect_error("example label not a label", base + ["--examples", "green=" + img, img], 2, ["green"])
    expect_error("--examples without =", base + ["--examples", img, img], 2, ["LABEL=DIR"])
    expect_error("--example-weight out of range", base + ["--example-weight", "1.5", img], 2,
                 ["--example-weight"])
    expect_error("--probe-c zero", base + ["--probe-c", "0", img], 2, ["--probe-c"])
    expect_error("--threshold out of range", base + ["--threshold", "2", img], 2, ["--threshold"])
    sort = ["sort", "--model", model, "--label", "red"]
    expect_error("sort without --into", sort + [img], 2, ["--into"])
    expect_error("sort --copy --link", sort + ["--into", tmp, "--copy", "--link", img], 2, ["--link"])
    expect_error("sort without images", sort + ["--into", tmp], 2)
    rc, out, err = run(*sort, "--into", os.path.join(tmp, "o"), missing)
    check("sort a missing image", rc == 3 and "no-such-folder" in err
          and json.loads(out)["files"][0]["error"].endswith("No such file or directory"),
          "exit %d, stderr %r" % (rc, err))
    check("failed sort made nothing", not os.path.exists(os.path.join(tmp, "o")))


def main():
    for tool in (CLI, PROBE_FIT):
        if not os.path.exists(tool):
            print("FAILED: no %s" % tool)
            return 1
    test_probe_against_reference()
    with tempfile.TemporaryDirectory(prefix="clipscope-fewshot-") as tmp:
        model = os.path.join(tmp, "tiny")
        tinyclip.make_model(model, fmt="hf", vision="vit")
        test_few_shot(model, tmp)
        test_per_template(model, tmp)
        test_threshold(model, tmp)
        test_sort(model, tmp)
        test_errors(model, tmp)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("all few-shot checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
