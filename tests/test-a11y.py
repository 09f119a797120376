#!/usr/bin/python3
"""The desktop application as a screen reader meets it, through AT-SPI.

Run inside its own D-Bus session (meson does that); the test starts its
own Xvfb, then clipscope-gui on a tiny random model, finds the heatmap on the
accessibility bus as Orca would, reads its headers and every cell's name
and checks the values against `clipscope classify`, then moves through
the grid with real key events and opens a cell's explanation with Enter.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time

import pyatspi
from PIL import Image

GUI = os.environ["CLIPSCOPE_GUI"]
CLI = os.environ["CLIPSCOPE_CLI"]
LABELS = ["cat", "red, shiny car", "dog"]
GRID_NAME = "Similarity of each image with each label"


def children(obj):
    return [c for c in obj if c is not None]


def find(obj, test, depth=0):
    if test(obj):
        return obj
    if depth > 60:
        return None
    for child in children(obj):
        found = find(child, test, depth + 1)
        if found is not None:
            return found
    return None


APP = None


def wait_for(what, probe, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if APP is not None and APP.poll() is not None:
            raise AssertionError(f"clipscope-gui exited with {APP.returncode} while waiting for {what}")
        try:
            value = probe()
        except Exception:  # the tree changes under us while it loads
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def grid_rows(grid):
    return [r for r in children(grid) if r.getRole() == pyatspi.ROLE_TABLE_ROW]


def focused_cell(grid):
    for row in grid_rows(grid):
        for cell in children(row):
            if cell.getState().contains(pyatspi.STATE_FOCUSED):
                return cell.name
    return None


def press(keysym_name):
    if keysym_name == "ShiftTab":
        # Shift by its key code (50 in Xvfb's default keymap), Tab by keysym.
        pyatspi.Registry.generateKeyboardEvent(50, None, pyatspi.KEY_PRESS)
        pyatspi.Registry.generateKeyboardEvent(0xFF09, None, pyatspi.KEY_SYM)
        pyatspi.Registry.generateKeyboardEvent(50, None, pyatspi.KEY_RELEASE)
        return
    keysym = {"Right": 0xFF53, "Left": 0xFF51, "Down": 0xFF54, "Up": 0xFF52,
              "End": 0xFF57, "Home": 0xFF50, "Return": 0xFF0D, "Tab": 0xFF09}[keysym_name]
    pyatspi.Registry.generateKeyboardEvent(keysym, None, pyatspi.KEY_SYM)


def start_xvfb():
    """An X server on a display it picks itself (-displayfd), so that
    servers started at the same moment cannot collide."""
    read, write = os.pipe()
    # -noreset: a server that resets when its last client leaves refuses
    # the next one for a moment.
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1400x900x24", "-nolisten", "tcp",
                               "-noreset"],
                              pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    number = b""
    while not number.endswith(b"\n"):
        chunk = os.read(read, 16)
        if not chunk:
            raise AssertionError("Xvfb did not start")
        number += chunk
    os.close(read)
    os.environ["DISPLAY"] = ":" + number.decode().strip()
    # The accessibility bus and registry, started by D-Bus on demand, must
    # know the display too: the registry types the key events there.
    subprocess.run(["dbus-update-activation-environment", "DISPLAY"], check=True)
    return server


def main():
    server = start_xvfb()
    try:
        run()
    finally:
        server.terminate()
        server.wait(timeout=30)


def run():
    tmp = tempfile.mkdtemp(prefix="clipscope-a11y-")
    model = os.path.join(tmp, "model")
    subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tinyclip.py"),
                    model, "--format", "hf", "--seed", "0"], check=True, stdout=subprocess.DEVNULL)
    images = []
    for i in range(3):
        path = os.path.join(tmp, f"image-{i}.png")
        Image.new("RGB", (48 + 16 * i, 40), (i * 80, 100 + i * 30, 200 - i * 50)).save(path)
        images.append(path)

    label_args = [a for label in LABELS for a in ("--label", label)]
    want = json.loads(subprocess.run([CLI, "classify", "--model", model, *label_args, *images],
                                     check=True, capture_output=True, text=True).stdout)

    env = dict(os.environ, GSETTINGS_BACKEND="memory", GSK_RENDERER="cairo")
    for name in ("GTK_A11Y", "NO_AT_BRIDGE"):
        env.pop(name, None)
    global APP
    app = APP = subprocess.Popen([GUI, "--model", model, *label_args, *images], env=env)
    try:
        desktop = pyatspi.Registry.getDesktop(0)
        grid = wait_for("the heatmap on the accessibility bus", lambda: next(
            (g for a in children(desktop) if a.name == "clipscope-gui"
             for g in [find(a, lambda o: o.getRole() == pyatspi.ROLE_TABLE and o.name == GRID_NAME)]
             if g is not None), None))
        wait_for("every cell scored", lambda: len(grid_rows(grid)) == 1 + len(images) and all(
            "cosine" in c.name for r in grid_rows(grid)[1:] for c in children(r)[1:]))

        rows = grid_rows(grid)
        headers = children(rows[0])
        # GTK 4.8 passes GTK_ACCESSIBLE_ROLE_COLUMN_HEADER on as a filler;
        # newer GTK as a column header. Either way it is the first row.
        assert all(h.getRole() in (pyatspi.ROLE_COLUMN_HEADER, pyatspi.ROLE_FILLER) for h in headers), \
            [h.getRoleName() for h in headers]
        assert [h.name for h in headers] == LABELS, [h.name for h in headers]
        for i, row in enumerate(rows[1:]):
            expected = want["images"][i]
            name = os.path.basename(images[i])
            header, *cells = children(row)
            assert header.getRole() == pyatspi.ROLE_ROW_HEADER and header.name == name, header.name
            assert len(cells) == len(LABELS)
            for j, cell in enumerate(cells):
                assert cell.getRole() == pyatspi.ROLE_TABLE_CELL, cell.getRoleName()
                m = re.fullmatch(re.escape(f"{name}, {LABELS[j]}: ")
                                 + r"cosine (-?\d\.\d{3}), probability (\d+\.\d) %(, best match)?", cell.name)
                assert m is not None, cell.name
                assert abs(float(m.group(1)) - expected["similarity"][j]) <= 0.0006, (cell.name, expected)
                assert abs(float(m.group(2)) - 100 * expected["probabilities"][j]) <= 0.06, (cell.name, expected)
                assert (m.group(3) is not None) == (expected["top"] == LABELS[j]), (cell.name, expected)
        print("ok 1 - the heatmap reads as a grid with headers and named cells")

        # The keyboard: Tab into the grid, which takes one Tab stop and
        # enters at its first cell; then move with arrows.
        first = children(rows[1])[1]
        for _ in range(120):
            if focused_cell(grid) is not None:
                break
            press("Tab")
            time.sleep(0.05)
        wait_for("the first cell focused", lambda: focused_cell(grid) == first.name, 20)
        press("Tab")
        wait_for("Tab to leave the grid", lambda: focused_cell(grid) is None, 20)
        press("ShiftTab")
        wait_for("Shift+Tab to come back to the same cell", lambda: focused_cell(grid) == first.name, 20)
        press("Right")
        wait_for("Right to move one label on",
                 lambda: focused_cell(grid) == children(grid_rows(grid)[1])[2].name, 20)
        press("Down")
        wait_for("Down to move one image on",
                 lambda: focused_cell(grid) == children(grid_rows(grid)[2])[2].name, 20)
        press("End")
        wait_for("End to reach the last label",
                 lambda: focused_cell(grid) == children(grid_rows(grid)[2])[3].name, 20)
        press("Left")
        press("Left")
        wait_for("Left twice to reach the first label",
                 lambda: focused_cell(grid) == children(grid_rows(grid)[2])[1].name, 20)
        press("Left")
        time.sleep(0.5)
        assert focused_cell(grid) == children(grid_rows(grid)[2])[1].name, "Left past the edge moved"
        print("ok 2 - arrow keys, End and the edges move the focus as expected")

        # Enter explains the cell: the preview's map is now of that label.
        press("End")
        press("Return")
        root = grid
        while root.parent is not None and root.getRole() != pyatspi.ROLE_FRAME:
            root = root.parent
        wait_for("the explanation of “dog”", lambda: find(
            root, lambda o: o.getRole() == pyatspi.ROLE_IMAGE and o.name == "Where the model sees “dog”"), 30)
        print("ok 3 - Enter shows where in the image the focused cell's label is")

        # The probability bars of the image the cursor is on (the second),
        # most likely first, as a grid of its own.
        expected = want["images"][1]["probabilities"]
        order = sorted(range(len(LABELS)), key=lambda j: (-expected[j], j))
        bars = find(root, lambda o: o.getRole() == pyatspi.ROLE_TABLE and o.name == "Probability of each label")
        assert bars is not None

        def bars_match():
            rows = grid_rows(bars)
            if [children(r)[0].name for r in rows] != [LABELS[j] for j in order]:
                return False
            for r, j in zip(rows, order):
                m = re.fullmatch(re.escape(LABELS[j]) + r": (\d+\.\d) %", children(r)[1].name)
                if m is None or abs(float(m.group(1)) - 100 * expected[j]) > 0.06:
                    return False
            return True
        wait_for("the bars of the second image", bars_match, 20)
        print("ok 4 - the probability bars read as a grid of labels and percentages")
    finally:
        app.terminate()
        app.wait(timeout=30)

    try:
        check_translated(model, images, env)
        print("ok 5 - in Simplified Chinese, every name and description in the window is translated")
        check_strip_keys(model, tmp, env)
        print("ok 6 - the arrow keys walk a long strip of thumbnails, and the window follows")
        print("1..6")
    finally:
        subprocess.run(["rm", "-rf", tmp], check=False)


def everything(obj, depth=0):
    yield obj
    if depth < 80:
        for child in children(obj):
            yield from everything(child, depth + 1)


def check_translated(model, images, env):
    """Starts the window in zh_CN and reads every accessible name and
    description in it: what is left after taking out the user's own data
    (labels, file names, the model's name) must hold no English words."""
    global APP
    labels = ["猫", "一只戴着帽子的狗", "red, shiny car"]
    env = dict(env, LANGUAGE="zh_CN", LANG="C.UTF-8", LC_ALL="C.UTF-8")
    label_args = [a for label in labels for a in ("--label", label)]
    app = APP = subprocess.Popen([GUI, "--model", model, *label_args, *images], env=env)
    try:
        desktop = pyatspi.Registry.getDesktop(0)
        grid = wait_for("the heatmap in Chinese", lambda: next(
            (g for a in children(desktop) if a.name == "clipscope-gui"
             for g in [find(a, lambda o: o.getRole() == pyatspi.ROLE_TABLE and o.name == "每张图像与每个标签的相似度")]
             if g is not None), None))
        wait_for("every cell scored", lambda: len(grid_rows(grid)) == 1 + len(images) and all(
            "余弦" in c.name for r in grid_rows(grid)[1:] for c in children(r)[1:]))
        frame = grid
        while frame.parent is not None and frame.getRole() != pyatspi.ROLE_FRAME:
            frame = frame.parent
        # The default template is the user's data too, and shows filled in.
        data = sorted([*labels, *images, *(os.path.basename(i) for i in images), os.path.basename(model),
                       "Clipscope", "a photo of a", "CIFAR-10", "ImageNet", "CLIP", "F9", "Ctrl+O"],
                      key=len, reverse=True)
        untranslated = set()
        for obj in everything(frame):
            for text in (obj.name or "", obj.description or ""):
                # GTK 4.8 names an unnamed widget after its type, and the
                # title's subtitle is data: the model, backend and device.
                if re.fullmatch(r"[A-Z][a-z]+(?:[A-Z][a-z]*)+", text) or text.startswith(
                        os.path.basename(model) + " · "):
                    continue
                rest = text
                for d in data:
                    rest = rest.replace(d, "")
                if re.search(r"[A-Za-z]{2,}", rest):
                    untranslated.add(text)
        assert not untranslated, sorted(untranslated)
    finally:
        app.terminate()
        app.wait(timeout=30)


def check_strip_keys(model, tmp, env):
    """Thirty images make a strip wider than the window: a click on the
    second thumbnail, then Right, choose the images one after the other,
    past the edge of the strip, and the preview shows each."""
    global APP
    images = []
    for i in range(30):
        path = os.path.join(tmp, f"strip-{i:02d}.png")
        Image.new("RGB", (48 + 4 * i, 40), (i * 8, 100, 200 - i * 5)).save(path)
        images.append(path)
    app = APP = subprocess.Popen([GUI, "--model", model, "--label", "cat", *images], env=env)
    try:
        desktop = pyatspi.Registry.getDesktop(0)
        frame = wait_for("the window", lambda: next(
            (a for a in children(desktop) if a.name == "clipscope-gui"), None))

        def shown(name):
            # The preview's title; thumbnails are images, heatmap rows row headers.
            return find(frame, lambda o: o.getRole() == pyatspi.ROLE_LABEL and o.name == name)
        thumb = wait_for("the second thumbnail", lambda: find(
            frame, lambda o: o.getRole() == pyatspi.ROLE_IMAGE and o.name == "strip-01.png"))
        wait_for("the first image shown", lambda: shown("strip-00.png"))
        # Without a window manager the window sits at the screen's origin,
        # where its own coordinates are the screen's.
        box = thumb.queryComponent().getExtents(pyatspi.WINDOW_COORDS)
        pyatspi.Registry.generateMouseEvent(box.x + box.width // 2, box.y + box.height - 8, "b1c")
        wait_for("a click to choose the second image", lambda: shown("strip-01.png"), 20)
        for _ in range(20):
            press("Right")
            time.sleep(0.05)
        wait_for("Right to reach the 22nd image", lambda: shown("strip-21.png"), 20)
        press("Left")
        wait_for("Left to go back one", lambda: shown("strip-20.png"), 20)
    finally:
        app.terminate()
        app.wait(timeout=30)


if __name__ == "__main__":
    main()
