#!/usr/bin/python3
"""Checks the Flatpak manifest against the promises made for it.

The app id, runtime and command; a GNOME runtime no older than 49; the
sandbox holes, exactly those the application needs and no file-system
access; every source of every dependency pinned by a checksum or a commit;
OpenBLAS built for every CPU it may meet; oneDNN 2 on the OpenMP runtime,
not tuned to the build machine's CPU; the application itself built from
this checkout with the Vulkan backend and oneDNN.

Usage: check-manifest.py MANIFEST APP_ID

After checking the manifest it checks the checker: each of a list of broken
copies of the manifest must be rejected.
"""

import copy
import json
import os
import re
import sys

RUNTIME = "org.gnome.Platform"
SDK = "org.gnome.Sdk"
MIN_RUNTIME_VERSION = 49
COMMAND = "clipscope-gui"
APP_MODULE = "clipscope"

# Each hole in the sandbox, and why it is there.
FINISH_ARGS = {
    "--device=dri": "the GPU, for the Vulkan backend and GTK's renderer",
    "--share=ipc": "shared memory with the X server, for the X11 fallback",
    "--socket=wayland": "the display",
    "--socket=fallback-x11": "the display where there is no Wayland",
    "--share=network": "downloading models",
}

# The engine calls oneDNN 2's C API (operation descriptors, which oneDNN 3
# removed), and its own loops run on the OpenMP threads oneDNN runs on,
# which meson finds as dependency('openmp').
ONEDNN_TAG = re.compile(r"^v2\.[0-9]+\.[0-9]+$")
ONEDNN_OPTS = ("-DDNNL_CPU_RUNTIME=OMP", "-DDNNL_ARCH_OPT_FLAGS=")

SHA256 = re.compile(r"^[0-9a-f]{64}$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")


def modules_of(modules, base_dir):
    """Yields every module, nested ones and those in separate files too."""
    for module in modules:
        if isinstance(module, str):
            path = os.path.join(base_dir, module)
            with open(path, encoding="utf-8") as f:
                module = json.load(f)
            yield from modules_of([module], os.path.dirname(path))
            continue
        yield module
        yield from modules_of(module.get("modules", []), base_dir)


def source_problem(source, module_name, base_dir):
    """Says what is wrong with one source, or returns None."""
    kind = source.get("type")
    if kind in ("archive", "file") and "url" in source:
        if not source["url"].startswith("https://"):
            return "%s is not fetched over https" % source["url"]
        if not SHA256.match(source.get("sha256", "")):
            return "%s has no sha256" % source["url"]
        return None
    if kind == "git":
        if not COMMIT.match(source.get("commit", "")):
            return "git source %s is not pinned to a commit" % source.get("url", source.get("path"))
        return None
    if kind == "dir" and module_name == APP_MODULE:
        root = os.path.normpath(os.path.join(base_dir, source.get("path", "")))
        try:
            with open(os.path.join(root, "meson.build"), encoding="utf-8") as f:
                first = f.read(200)
        except OSError:
            return "dir source %s has no meson.build" % root
        if "project('clipscope'" not in first:
            return "dir source %s is not the Clipscope checkout" % root
        return None
    return "a %s source is neither checksummed nor this checkout" % kind


def make_commands(module):
    """The make command lines of a module, whatever its build system."""
    if module.get("buildsystem") == "simple":
        return [c for c in module.get("build-commands", []) if c.split()[:1] == ["make"]]
    return [" ".join(["make"] + module.get("make-args", []))]


def problems(manifest, app_id, base_dir):
    """Lists everything wrong with @manifest; empty when all is well."""
    found = []

    def expect(cond, message):
        if not cond:
            found.append(message)

    manifest_id = manifest.get("id", manifest.get("app-id"))
    expect(manifest_id == app_id, "id is %r, expected %r" % (manifest_id, app_id))
    expect(manifest.get("runtime") == RUNTIME,
           "runtime is %r, expected %r" % (manifest.get("runtime"), RUNTIME))
    expect(manifest.get("sdk") == SDK, "sdk is %r, expected %r" % (manifest.get("sdk"), SDK))
    version = str(manifest.get("runtime-version", ""))
    expect(version.isdigit() and int(version) >= MIN_RUNTIME_VERSION,
           "runtime-version is %r, expected %d or newer" % (version, MIN_RUNTIME_VERSION))
    expect(manifest.get("command") == COMMAND,
           "command is %r, expected %r" % (manifest.get("command"), COMMAND))

    args = manifest.get("finish-args", [])
    for arg in sorted(set(FINISH_ARGS) - set(args)):
        found.append("finish-args lack %s (%s)" % (arg, FINISH_ARGS[arg]))
    for arg in args:
        if arg.startswith("--filesystem="):
            found.append("finish-args grant %s: files come through the portals" % arg)
        elif arg not in FINISH_ARGS:
            found.append("finish-args grant %s, which the application does not need" % arg)
    expect(len(args) == len(set(args)), "finish-args repeat an entry")

    modules = list(modules_of(manifest.get("modules", []), base_dir))
    names = [m.get("name") for m in modules]
    expect(names and names[-1] == APP_MODULE,
           "the last module is %r, expected %r" % (names[-1] if names else None, APP_MODULE))
    for module in modules:
        sources = module.get("sources", [])
        expect(sources, "module %s has no sources" % module.get("name"))
        for source in sources:
            problem = source_problem(source, module.get("name"), base_dir)
            if problem:
                found.append("module %s: %s" % (module.get("name"), problem))

    blas = [m for m in modules if m.get("name") == "openblas"]
    expect(len(blas) == 1, "there is no openblas module")
    for module in blas:
        commands = make_commands(module)
        expect(commands, "module openblas runs no make command")
        for command in commands:
            words = command.split()
            for needed in ("DYNAMIC_ARCH=1", "USE_OPENMP=0"):
                expect(needed in words, "module openblas runs %r without %s" % (command, needed))

    onednn = [m for m in modules if m.get("name") == "onednn"]
    expect(len(onednn) == 1, "there is no onednn module")
    for module in onednn:
        expect(APP_MODULE not in names or names.index("onednn") < names.index(APP_MODULE),
               "module onednn comes after %s" % APP_MODULE)
        opts = module.get("config-opts", [])
        for needed in ONEDNN_OPTS:
            expect(needed in opts, "module onednn is configured without %s" % needed)
        for source in module.get("sources", []):
            tag = source.get("tag", "")
            expect(source.get("type") != "git" or ONEDNN_TAG.match(tag),
                   "module onednn is built from %r, not a oneDNN 2 release tag" % tag)

    app = [m for m in modules if m.get("name") == APP_MODULE]
    for module in app:
        expect(module.get("buildsystem") == "meson", "module %s is not built with meson" % APP_MODULE)
        for needed in ("-Dvulkan=enabled", "-Ddnnl=enabled"):
            expect(needed in module.get("config-opts", []),
                   "module %s is built without %s" % (APP_MODULE, needed))
        expect(any(s.get("type") == "dir" for s in module.get("sources", [])),
               "module %s is not built from this checkout" % APP_MODULE)
    return found


def broken_copies(manifest):
    """Yields (what was broken, broken manifest) pairs the checker must reject."""
    def variant(what, change):
        broken = copy.deepcopy(manifest)
        change(broken)
        return what, broken

    def first_archive(m):
        return next(s for mod in m["modules"] if isinstance(mod, dict)
                    for s in mod.get("sources", []) if s.get("type") == "archive")

    yield variant("home directory", lambda m: m["finish-args"].append("--filesystem=home"))
    yield variant("host file system", lambda m: m["finish-args"].append("--filesystem=host:ro"))
    yield variant("session bus", lambda m: m["finish-args"].append("--socket=session-bus"))
    yield variant("no GPU", lambda m: m["finish-args"].remove("--device=dri"))
    yield variant("old runtime", lambda m: m.update({"runtime-version": "48"}))
    yield variant("branch runtime", lambda m: m.update({"runtime-version": "master"}))
    yield variant("other command", lambda m: m.update({"command": "clipscope"}))
    yield variant("unchecked archive", lambda m: first_archive(m).pop("sha256"))
    yield variant("http archive", lambda m: first_archive(m).update(
        {"url": first_archive(m)["url"].replace("https://", "http://")}))
    yield variant("unpinned git", lambda m: m["modules"].insert(0, {
        "name": "extra", "sources": [{"type": "git", "url": "https://example.org/x.git", "tag": "v1"}]}))
    yield variant("foreign dir", lambda m: m["modules"].insert(0, {
        "name": "extra", "sources": [{"type": "dir", "path": "."}]}))
    yield variant("no vulkan", lambda m: m["modules"][-1].update({"config-opts": []}))
    yield variant("single-CPU OpenBLAS", lambda m: [
        mod.update({"build-commands": [c.replace("DYNAMIC_ARCH=1", "") for c in mod["build-commands"]]})
        for mod in m["modules"] if isinstance(mod, dict) and mod.get("name") == "openblas"])

    def onednn(m):
        return next(mod for mod in m["modules"] if isinstance(mod, dict) and mod.get("name") == "onednn")

    def replace_opt(old, new):
        return lambda m: onednn(m).update(
            {"config-opts": [new if o == old else o for o in onednn(m)["config-opts"]]})

    yield variant("no oneDNN", lambda m: m["modules"].remove(onednn(m)))
    yield variant("oneDNN after the app", lambda m: m["modules"].append(m["modules"].pop(
        m["modules"].index(onednn(m)))))
    yield variant("oneDNN on TBB", replace_opt("-DDNNL_CPU_RUNTIME=OMP", "-DDNNL_CPU_RUNTIME=TBB"))
    yield variant("oneDNN for the build machine", replace_opt("-DDNNL_ARCH_OPT_FLAGS=",
                                                              "-DDNNL_ARCH_OPT_FLAGS=-march=native"))
    yield variant("oneDNN 3", lambda m: onednn(m)["sources"][0].update({"tag": "v3.9.1"}))
    yield variant("optional oneDNN", lambda m: m["modules"][-1].update(
        {"config-opts": ["-Dvulkan=enabled"]}))


def main():
    path, app_id = sys.argv[1], sys.argv[2]
    base_dir = os.path.dirname(os.path.abspath(path))
    expected_name = app_id + ".json"
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)

    failed = False
    if os.path.basename(path) != expected_name:
        print("FAILED the manifest is named %s, expected %s" % (os.path.basename(path), expected_name))
        failed = True
    for problem in problems(manifest, app_id, base_dir):
        print("FAILED " + problem)
        failed = True
    if not failed:
        print("ok     %s" % path)

    for what, broken in broken_copies(manifest):
        if problems(broken, app_id, base_dir):
            print("ok     rejects a manifest with %s" % what)
        else:
            print("FAILED accepts a manifest with %s" % what)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
