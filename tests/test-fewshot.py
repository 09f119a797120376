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


def main():
    for tool in (CLI, PROBE_FIT):
        if not os.path.exists(tool):
            print("FAILED: no %s" % tool)
            return 1
    test_probe_against_reference()
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("all few-shot checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
