#!/usr/bin/python3
"""Prints the JSON of `clipscope classify` as a table, one row per image.

Each row gives the file, the label with the highest zero-shot probability,
that probability, and the runner-up with its own. For a model that scores
with a sigmoid (SigLIP), a line under the table says that each probability
stands on its own and that they need not add up to 100 %.

Usage: clipscope classify … | classify-table.py
"""

import json
import os
import sys


def percent(p):
    return "%.1f %%" % (100.0 * p)


def rows(result):
    labels = result["labels"]
    for image in result["images"]:
        probabilities = image["probabilities"]
        if len(probabilities) != len(labels):
            raise ValueError("%s has %d probabilities for %d labels"
                             % (image["path"], len(probabilities), len(labels)))
        ranked = sorted(range(len(labels)), key=lambda i: probabilities[i], reverse=True)
        best = ranked[0]
        second = "%s (%s)" % (labels[ranked[1]], percent(probabilities[ranked[1]])) \
            if len(ranked) > 1 else "-"
        yield [os.path.basename(image["path"]), labels[best], percent(probabilities[best]), second]


def table(result):
    header = ["image", "best match", "probability", "runner-up"]
    body = list(rows(result))
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    # Probabilities are right-aligned so their decimal points line up.
    align = ["<", "<", ">", "<"]

    def line(cells):
        return "  ".join("%s" % format(c, a + str(w)) for c, a, w in zip(cells, align, widths)).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    out += [line(r) for r in body]
    if result.get("scoring") == "sigmoid":
        out += ["", "Each probability is the model's sigmoid for that label on its own "
                "(scoring: sigmoid):", "they are independent and need not add up to 100 %."]
    return "\n".join(out)


def main():
    try:
        result = json.load(sys.stdin)
        text = table(result)
    except (ValueError, KeyError, IndexError, TypeError) as e:
        print("classify-table: cannot read the output of clipscope classify: %s" % e, file=sys.stderr)
        return 1
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
