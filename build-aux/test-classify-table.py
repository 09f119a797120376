#!/usr/bin/python3
"""The quick start's table: right rows from `clipscope classify` JSON, and a
clear refusal of anything else."""

import json
import os
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "classify-table.py")

failures = []


def check(name, cond, detail=""):
    print(("ok     " if cond else "FAILED ") + name + ("" if cond else ": " + detail))
    if not cond:
        failures.append(name)


def run(text):
    p = subprocess.run([sys.executable, SCRIPT], input=text, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


result = {
    "labels": ["cat", "dog", "car"],
    "templates": ["a photo of a {}."],
    "images": [
        {"path": "/somewhere/data/samples/dog.png", "similarity": [0.2, 0.3, 0.1],
         "probabilities": [0.25, 0.7, 0.05], "top": "dog"},
        {"path": "car.png", "similarity": [0.1, 0.1, 0.3],
         "probabilities": [0.0012, 0.0008, 0.998], "top": "car"},
    ],
}

status, out, err = run(json.dumps(result))
lines = out.splitlines()
check("exit status", status == 0, err)
check("header, rule and one row per image", len(lines) == 4, out)
if len(lines) == 4:
    check("header", lines[0].split() == ["image", "best", "match", "probability", "runner-up"], lines[0])
    check("rule", set(lines[1].replace(" ", "")) == {"-"}, lines[1])
    check("first row", lines[2].split() == ["dog.png", "dog", "70.0", "%", "cat", "(25.0", "%)"], lines[2])
    check("second row", lines[3].split() == ["car.png", "car", "99.8", "%", "cat", "(0.1", "%)"], lines[3])
    check("probabilities line up", lines[2].index("70.0") == lines[3].index("99.8"), out)

# A softmax model's table says nothing more; a sigmoid model's says that
# its probabilities are independent.
softmax = dict(result, scoring="softmax")
status, out, err = run(json.dumps(softmax))
check("softmax: no note", status == 0 and len(out.splitlines()) == 4 and "independent" not in out, out + err)
sigmoid = dict(result, scoring="sigmoid")
sigmoid["images"] = [dict(result["images"][0], probabilities=[0.6, 0.9, 0.01])]
status, out, err = run(json.dumps(sigmoid))
lines = out.splitlines()
check("sigmoid: rows as before", status == 0 and len(lines) > 3
      and lines[2].split() == ["dog.png", "dog", "90.0", "%", "cat", "(60.0", "%)"], out + err)
check("sigmoid: says the probabilities are independent",
      "independent" in out and "need not add up to 100 %" in out and "sigmoid" in out, out)

# A single label has no runner-up.
single = {"labels": ["cat"], "images": [{"path": "a.png", "probabilities": [1.0]}]}
status, out, err = run(json.dumps(single))
check("single label", status == 0 and out.splitlines()[-1].split() == ["a.png", "cat", "100.0", "%", "-"], out + err)

for name, text in [
    ("empty input", ""),
    ("not JSON", "clipscope: error: no model"),
    ("no images", json.dumps({"labels": ["cat"]})),
    ("too few probabilities", json.dumps({"labels": ["cat", "dog"],
                                          "images": [{"path": "a.png", "probabilities": [1.0]}]})),
]:
    status, out, err = run(text)
    check("refuses " + name, status == 1 and out == "" and err.startswith("classify-table: "), out + err)

sys.exit(1 if failures else 0)
