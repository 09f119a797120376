#!/usr/bin/python3
"""Installs the build into a scratch DESTDIR and checks what the Flatpak needs.

flatpak-builder runs `meson install` into /app and then relies on the files
landing where the manifest and the desktop integration expect them: the
manifest's command in bindir, the desktop file whose Exec= runs that command,
the AppStream metainfo, the scalable and symbolic icons and the GSettings
schema, all named after the app id (Flatpak exports nothing else), the
library, the bundled demo model and the sample images. None of them may fall
to the manifest's cleanup rules.

Usage: check-install-layout.py MESON BUILD_DIR SOURCE_DIR MANIFEST
                               PREFIX BINDIR LIBDIR DATADIR
"""

import configparser
import fnmatch
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

failures = []


def check(name, cond, detail=""):
    print(("ok     " if cond else "FAILED ") + name + ("" if cond else ": " + detail))
    if not cond:
        failures.append(name)
    return cond


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def cleaned_by(relpath, patterns):
    """The first cleanup pattern that would delete @relpath (relative to the
    prefix), as flatpak-builder applies them: a pattern starting with / names
    a path under the prefix, with everything below it; any other pattern is
    matched against file names."""
    parts = relpath.split("/")
    for pattern in patterns:
        if pattern.startswith("/"):
            for n in range(1, len(parts) + 1):
                if fnmatch.fnmatchcase("/".join(parts[:n]), pattern[1:]):
                    return pattern
        elif fnmatch.fnmatchcase(parts[-1], pattern):
            return pattern
    return None


def same_tree(name, source_dir, installed_dir):
    """Checks every file of @source_dir is installed, byte for byte."""
    wanted = sorted(os.path.relpath(os.path.join(d, f), source_dir)
                    for d, _, files in os.walk(source_dir) for f in files)
    check(name + " has files", bool(wanted), source_dir + " is empty")
    missing = [f for f in wanted if not os.path.isfile(os.path.join(installed_dir, f))]
    check(name + " installed", not missing, "missing " + ", ".join(missing))
    changed = [f for f in wanted if f not in missing
               and digest(os.path.join(source_dir, f)) != digest(os.path.join(installed_dir, f))]
    check(name + " installed unchanged", not changed, "differ: " + ", ".join(changed))
    return [os.path.join(installed_dir, f) for f in wanted]


def main():
    meson, build_dir, source_dir, manifest_path, prefix, bindir, libdir, datadir = sys.argv[1:9]
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    app_id = manifest.get("id", manifest.get("app-id"))
    command = manifest["command"]
    cleanup = manifest.get("cleanup", [])

    with tempfile.TemporaryDirectory(prefix="clipscope-install-") as destdir:
        p = subprocess.run([meson, "install", "--no-rebuild", "--quiet", "-C", build_dir,
                            "--destdir", destdir], capture_output=True, text=True)
        if not check("meson install --destdir", p.returncode == 0, p.stdout + p.stderr):
            return 1

        root = os.path.join(destdir, prefix.lstrip("/"))

        def under(directory, *parts):
            # Meson keeps install directories relative to the prefix unless
            # they were configured outside it.
            base = os.path.join(destdir, directory.lstrip("/")) if os.path.isabs(directory) \
                else os.path.join(root, directory)
            return os.path.join(base, *parts)

        needed = []

        def present(name, path, executable=False):
            ok = os.path.isfile(path) and (not executable or os.access(path, os.X_OK))
            check(name, ok, os.path.relpath(path, destdir) + " is missing" +
                  (" or not executable" if executable else ""))
            needed.append(path)
            return ok

        present("manifest command " + command, under(bindir, command), executable=True)
        present("command-line tool", under(bindir, "clipscope"), executable=True)
        libs = [f for f in os.listdir(under(libdir))
                if f.startswith("libclipscope.so.")] if os.path.isdir(under(libdir)) else []
        check("libclipscope", bool(libs), "no libclipscope.so.* in " + libdir)
        needed += [under(libdir, f) for f in libs]

        desktop = under(datadir, "applications", app_id + ".desktop")
        if present("desktop file", desktop):
            entry = configparser.ConfigParser(interpolation=None)
            entry.optionxform = str
            entry.read(desktop, encoding="utf-8")
            exec_line = entry.get("Desktop Entry", "Exec", fallback="")
            check("desktop file runs " + command, exec_line.split()[:1] == [command],
                  "Exec=" + exec_line)
            icon = entry.get("Desktop Entry", "Icon", fallback="")
            check("desktop file names the app icon", icon == app_id, "Icon=" + icon)

        metainfo = under(datadir, "metainfo", app_id + ".metainfo.xml")
        if present("metainfo", metainfo):
            component = ET.parse(metainfo).getroot()
            check("metainfo id", component.findtext("id") == app_id, str(component.findtext("id")))
            check("metainfo launches the desktop file",
                  component.findtext("launchable[@type='desktop-id']") == app_id + ".desktop",
                  str(component.findtext("launchable[@type='desktop-id']")))

        icons = under(datadir, "icons", "hicolor")
        present("scalable icon", os.path.join(icons, "scalable", "apps", app_id + ".svg"))
        present("symbolic icon", os.path.join(icons, "symbolic", "apps", app_id + "-symbolic.svg"))

        schema = under(datadir, "glib-2.0", "schemas", app_id + ".gschema.xml")
        if present("GSettings schema", schema):
            ids = [s.get("id") for s in ET.parse(schema).getroot().iter("schema")]
            check("GSettings schema id", app_id in ids, ", ".join(map(str, ids)))

        samples = os.path.join(source_dir, "data", "samples")
        needed += same_tree("sample images", samples, under(datadir, "clipscope", "samples"))

        # The bundled model is checked from the moment it is in the tree.
        model = os.path.join(source_dir, "data", "models", "emoji-demo")
        if os.path.isdir(model):
            needed += same_tree("bundled model", model,
                                under(datadir, "clipscope", "models", "emoji-demo"))
        else:
            print("skip   bundled model: %s is not in the tree" % os.path.relpath(model, source_dir))

        for path in needed:
            rel = os.path.relpath(path, root)
            pattern = cleaned_by(rel, cleanup)
            check("kept by cleanup: " + rel, pattern is None, "removed by %r" % pattern)

    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
