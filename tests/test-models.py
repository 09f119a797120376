#!/usr/bin/python3
"""`clipscope models`: the model store, and downloads from a fake hub.

A threaded HTTP server on 127.0.0.1 speaks the part of the Hugging Face hub
protocol the downloader uses: the file listing API with sizes and LFS
SHA-256s, the safetensors-conversion pull request of a repository whose
main branch holds only a pickle, and resolve URLs that redirect LFS files
to a "CDN" on another port, which honours Range requests. Per repository,
the server can cut a transfer short, serve it slowly, corrupt it, ignore
Range, hide the listing API or demand a token. Every CLI run gets its own
XDG_DATA_HOME, so nothing touches the real ~/.local/share.
"""

import hashlib
import http.server
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tinyclip  # noqa: E402

CLI = os.environ.get("CLIPSCOPE_CLI", "_build/app/clipscope")
CONVERSION_TITLE = "Adding `safetensors` variant of this model"
TOKEN = "hf_test_token_123"

failures = []


def check(name, cond, detail=""):
    print(("ok     " if cond else "FAILED ") + name + ("" if cond else ": " + detail))
    if not cond:
        failures.append(name)


# ------------------------------------------------------------------ the hub

class Hub:
    """Repositories as {(repo, revision): {path: bytes}} and what was asked."""

    def __init__(self):
        self.files = {}
        self.discussions = {}
        self.blobs = {}
        self.requests = []
        self.lock = threading.Lock()
        self.cut = {}             # repo → bytes of the weights to send before hanging up
        self.slow = set()         # repos whose weights trickle out
        self.corrupt = set()      # repos whose weights have one byte flipped
        self.ignore_range = set() # repos whose CDN answers Range with the whole file
        self.no_api = set()       # repos the listing API does not know (an old mirror)
        self.gated = set()        # repos that need the token
        self.cdn_port = 0

    def add_repo(self, repo, files, revision="main"):
        self.files[(repo, revision)] = dict(files)
        for data in files.values():
            self.blobs[hashlib.sha256(data).hexdigest()] = data

    def record(self, role, handler):
        with self.lock:
            self.requests.append((role, handler.path, dict(handler.headers)))

    def take_requests(self):
        with self.lock:
            reqs, self.requests = self.requests, []
        return reqs


def is_lfs(path):
    return path.endswith(".safetensors") or path.endswith(".bin")


def make_handler(hub, role):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send(self, status, body=b"", headers=()):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def not_found(self, code):
            self.send(404, b"not found", [("X-Error-Code", code)])

        def do_GET(self):
            hub.record(role, self)
            parts = [urllib.parse.unquote(p) for p in urllib.parse.urlsplit(self.path).path.split("/")[1:]]
            if role == "cdn":
                return self.cdn(parts)
            if parts[0] == "api":
                return self.api(parts)
            if len(parts) >= 5 and parts[2] == "resolve":
                return self.resolve("/".join(parts[:2]), parts[3], "/".join(parts[4:]))
            self.not_found("EntryNotFound")

        def authorised(self, repo):
            if repo not in hub.gated or self.headers.get("Authorization") == "Bearer " + TOKEN:
                return True
            self.send(401, b"gated", [("X-Error-Code", "GatedRepo")])
            return False

        def api(self, parts):
            # /api/models/OWNER/NAME/tree/REV or /api/models/OWNER/NAME/discussions
            repo = "/".join(parts[2:4])
            if repo in hub.no_api or len(parts) < 5:
                return self.send(404, b"no such route")
            if not any(r == repo for r, _ in hub.files):
                return self.not_found("RepoNotFound")
            if not self.authorised(repo):
                return
            if parts[4] == "discussions":
                return self.discussions(repo)
            files = hub.files.get((repo, parts[5] if len(parts) > 5 else "main"))
            if files is None:
                return self.not_found("RevisionNotFound")
            items = []
            for path, data in files.items():
                item = {"type": "file", "oid": hashlib.sha1(data).hexdigest(), "size": len(data), "path": path}
                if is_lfs(path):
                    item["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
                items.append(item)
            items.append({"type": "directory", "oid": "0" * 40, "size": 0, "path": "onnx"})
            self.send(200, json.dumps(items).encode(), [("Content-Type", "application/json")])

        def discussions(self, repo):
            # Two a page, as the hub pages them (by fifty), filtered by
            # type and status when asked.
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            items = [d for d in hub.discussions.get(repo, [])
                     if query.get("type") != ["pull_request"] or d["isPullRequest"]
                     if query.get("status") != ["open"] or d["status"] == "open"]
            start = 2 * int(query.get("p", ["0"])[0])
            body = {"discussions": items[start:start + 2], "count": len(items), "start": start}
            self.send(200, json.dumps(body).encode(), [("Content-Type", "application/json")])

        def resolve(self, repo, revision, path):
            if not any(r == repo for r, _ in hub.files):
                return self.not_found("RepoNotFound")
            if not self.authorised(repo):
                return
            data = hub.files.get((repo, revision), {}).get(path)
            if data is None:
                return self.not_found("EntryNotFound")
            if not is_lfs(path):
                return self.send(200, data, [("ETag", '"%s"' % hashlib.sha1(data).hexdigest())])
            sha = hashlib.sha256(data).hexdigest()
            # The hub's answer for an LFS file: a redirect to the CDN, with
            # the hash and size of what the CDN will send.
            location = "http://127.0.0.1:%d/cdn/%s/%s" % (hub.cdn_port, urllib.parse.quote(repo, safe=""), sha)
            self.send(302, b"", [("Location", location), ("X-Linked-Etag", '"%s"' % sha),
                                 ("X-Linked-Size", str(len(data))), ("ETag", '"%s"' % sha)])

        def cdn(self, parts):
            repo, sha = parts[1], parts[2]
            if self.headers.get("Authorization"):
                return self.send(400, b"the CDN must not get the hub's token")
            data = hub.blobs.get(sha)
            if data is None:
                return self.send(404, b"no blob")
            if repo in hub.corrupt:
                data = data[:100] + bytes([data[100] ^ 0x55]) + data[101:]
            start = 0
            rng = self.headers.get("Range")
            if rng and repo not in hub.ignore_range:
                start = int(rng.split("=")[1].split("-")[0])
                if start >= len(data):
                    return self.send(416, b"", [("Content-Range", "bytes */%d" % len(data))])
            body = data[start:]
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            cut = hub.cut.pop(repo, None)
            if cut is not None:
                # Hang up mid-file, as a lost connection does.
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            step = 4096 if repo in hub.slow else len(body)
            for i in range(0, len(body), step):
                self.wfile.write(body[i:i + step])
                if repo in hub.slow:
                    self.wfile.flush()
                    time.sleep(0.05)

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that hangs up (cancelled, or over its file size limit)
        # is part of the tests.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def serve(handler):
    server = Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class HangingServer:
    """Accepts connections, reads the request and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)


# ------------------------------------------------------------------- models

def read_folder(path):
    out = {}
    for name in os.listdir(path):
        if name.startswith("."):
            continue
        with open(os.path.join(path, name), "rb") as f:
            out[name] = f.read()
    return out


def build_hub(tmp):
    hub = Hub()
    hf = os.path.join(tmp, "src-hf")
    oc = os.path.join(tmp, "src-oc")
    tinyclip.make_model(hf, fmt="hf", vision="vit", seed=1)
    tinyclip.make_model(oc, fmt="open_clip", vision="resnet", seed=2)
    hf_files = read_folder(hf)
    oc_files = read_folder(oc)

    # OpenAI's B/32 as the hub has it: a pickle on main, safetensors on the
    # conversion bot's pull request.
    main = {k: v for k, v in hf_files.items() if k != "model.safetensors"}
    main["pytorch_model.bin"] = b"\x80\x02pickle" * 100
    hub.add_repo("openai/clip-vit-base-patch32", main)
    hub.add_repo("openai/clip-vit-base-patch32", hf_files, revision="refs/pr/66")
    hub.discussions["openai/clip-vit-base-patch32"] = [
        {"num": 70, "title": "Add ONNX weights", "status": "open", "isPullRequest": True},
        {"num": 68, "title": "Fix the model card", "status": "open", "isPullRequest": True},
        {"num": 67, "title": "Question about the license", "status": "open", "isPullRequest": False},
        {"num": 66, "title": CONVERSION_TITLE, "status": "open", "isPullRequest": True},
        {"num": 12, "title": CONVERSION_TITLE, "status": "closed", "isPullRequest": True},
    ]
    # An open_clip repository without tokenizer files, as timm's are.
    hub.add_repo("tester/tiny-oc", {k: v for k, v in oc_files.items()
                                    if k not in ("vocab.json", "merges.txt")})
    for repo in ("tester/tiny-hf", "tester/resume", "tester/range200", "tester/corrupt",
                 "tester/nolist", "tester/gated", "tester/disk", "tester/cancel"):
        hub.add_repo(repo, hf_files)
    hub.add_repo("tester/pickle-only", {k: v for k, v in main.items()})
    # A SentencePiece-tokenized repository (SigLIP's layout) has no CLIP BPE:
    # its own tokenizer and settings are fetched, not OpenAI's BPE.
    spm = {k: v for k, v in hf_files.items() if k not in ("vocab.json", "merges.txt")}
    spm.update({"spiece.model": b"\x0a\x05piece" * 10, "tokenizer_config.json": b'{"pad_token": "</s>"}',
                "special_tokens_map.json": b'{"eos_token": "</s>"}', "README.md": b"# readme"})
    hub.add_repo("tester/tiny-spm", spm)
    wordpiece = {k: v for k, v in hf_files.items() if k not in ("vocab.json", "merges.txt")}
    wordpiece.update({"vocab.txt": b"[PAD]\n[UNK]\n", "tokenizer.json": b"{}" * 100})
    hub.add_repo("tester/tiny-wordpiece", wordpiece)
    # A CLIP repository that also has the fast tokenizer's files: only the
    # BPE is taken, as before.
    hub.add_repo("tester/clip-extra", dict(hf_files, **{"tokenizer.json": b"{}" * 1000,
                                                         "tokenizer_config.json": b"{}",
                                                         "vocab.txt": b"[PAD]\n"}))
    hub.cut["tester/resume"] = 100000
    hub.cut["tester/range200"] = 150000
    hub.ignore_range.add("tester/range200")
    hub.corrupt.add("tester/corrupt")
    hub.no_api.add("tester/nolist")
    hub.gated.add("tester/gated")
    hub.slow.add("tester/cancel")
    return hub, hf_files, oc_files


class Cli:
    def __init__(self, tmp, port):
        self.xdg = os.path.join(tmp, "xdg")
        self.data = os.path.join(tmp, "data")
        self.env = dict(os.environ)
        self.env.pop("HF_TOKEN", None)
        self.env.update({"XDG_DATA_HOME": self.xdg, "HF_ENDPOINT": "http://127.0.0.1:%d/" % port,
                         "CLIPSCOPE_DATA_DIR": self.data, "CLIPSCOPE_HTTP_TIMEOUT": "20"})
        self.models = os.path.join(self.xdg, "clipscope", "models")

    def popen(self, args, env=None, **kw):
        e = dict(self.env, **(env or {}))
        return subprocess.Popen([CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=e, **kw)

    def run(self, args, env=None, timeout=180, **kw):
        p = self.popen(args, env, **kw)
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out, err

    def json(self, name, args, env=None):
        rc, out, err = self.run(args, env)
        if rc != 0:
            check(name, False, "exit %d, stderr %r" % (rc, err))
            return None
        try:
            res = json.loads(out)
        except ValueError as e:
            check(name, False, "not JSON: %s" % e)
            return None
        check(name, True)
        return res

    def error(self, name, args, status, needles=(), env=None, **kw):
        rc, out, err = self.run(args, env, **kw)
        lines = [l for l in err.splitlines() if l.startswith("clipscope: error: ")]
        if os.environ.get("SHOW_ERRORS"):
            print("       " + name + ": " + (lines[0] if lines else err))
        ok = rc == status and len(lines) == 1 and out == "" and all(n in lines[0] for n in needles)
        check(name, ok, "exit %d, stderr %r" % (rc, err))
        return lines[0] if lines else ""

    def entry(self, name):
        rc, out, _ = self.run(["models", "list"])
        for m in json.loads(out)["models"] if rc == 0 else []:
            if m["name"] == name:
                return m
        return None


def installed_files(cli, folder):
    path = os.path.join(cli.models, folder)
    return read_folder(path) if os.path.isdir(path) else {}


def same_model(got, expected):
    return all(got.get(k) == v for k, v in expected.items())


def write_png(path):
    from PIL import Image
    Image.new("RGB", (40, 30), (200, 40, 40)).save(path)


# -------------------------------------------------------------------- tests

def test_usage(cli):
    rc, out, _ = cli.run(["models", "--help"])
    check("models --help", rc == 0 and "download" in out and "HF_TOKEN" in out, out)
    for sub in ("list", "download", "remove", "path", "add"):
        rc, out, _ = cli.run(["models", sub, "--help"])
        check("models %s --help" % sub, rc == 0 and "models " + sub in out, out)
    cli.error("models without subcommand", ["models"], 2)
    cli.error("unknown models subcommand", ["models", "frob"], 2, ["frob"])
    cli.error("download without NAME", ["models", "download"], 2)
    cli.error("path with two NAMEs", ["models", "path", "a", "b"], 2)
    cli.error("add with unknown option", ["models", "add", "x", "--frob"], 2, ["--frob"])
    cli.error("invalid name", ["models", "download", "../../etc"], 1, ["not a model name"])
    cli.error("hub id with ..", ["models", "path", "a/..x"], 1, ["not a model name"])
    cli.error("download a local name", ["models", "download", "mine"], 1, ["owner/name"])


def test_list_and_default(cli, hf_files):
    res = cli.json("list with nothing installed", ["models", "list"])
    names = [m["name"] for m in res["models"]] if res else []
    for name in ("clip-vit-base-patch32", "clip-vit-base-patch16", "clip-vit-large-patch14",
                 "clip-vit-b-32-laion2b", "clip-rn50-openai"):
        check("catalogue lists " + name, name in names, str(names))
    cat = res["models"][0] if res else {}
    check("catalogue entry fields", cat.get("repo") == "openai/clip-vit-base-patch32"
          and cat.get("format") == "hf" and cat.get("installed") is False and cat.get("path") is None
          and cat.get("size_is_estimate") is True and cat.get("size", 0) > 100e6
          and cat.get("source") == "catalogue", str(cat))
    check("CLIP entries say their family", cat.get("family") == "clip", str(cat))
    families = {"siglip-base-patch16-224": ("google/siglip-base-patch16-224", "siglip"),
                "siglip-so400m-patch14-384": ("google/siglip-so400m-patch14-384", "siglip"),
                "siglip-base-patch16-256-multilingual": ("google/siglip-base-patch16-256-multilingual",
                                                         "siglip"),
                "siglip2-base-patch16-224": ("google/siglip2-base-patch16-224", "siglip"),
                "siglip2-so400m-patch14-384": ("google/siglip2-so400m-patch14-384", "siglip"),
                "chinese-clip-vit-base-patch16": ("OFA-Sys/chinese-clip-vit-base-patch16", "chinese-clip")}
    by_name = {m["name"]: m for m in res["models"]} if res else {}
    for name, (repo, family) in families.items():
        m = by_name.get(name, {})
        check("catalogue offers " + name, m.get("repo") == repo and m.get("family") == family
              and m.get("format") == "hf" and m.get("size_is_estimate") is True
              and m.get("size", 0) > 500e6 and "%" in m.get("description", ""), str(m))
    check("SigLIP So400m's download is the larger",
          by_name.get("siglip-so400m-patch14-384", {}).get("size", 0)
          > 4 * by_name.get("siglip-base-patch16-224", {}).get("size", 1))
    check("no bundled model listed when absent", "emoji-demo" not in names)
    check("models dir under XDG_DATA_HOME", res is not None and res["models_dir"] == cli.models)
    cli.error("no default model", ["info"], 2, ["--model", "emoji-demo"])

    demo = os.path.join(cli.data, "models", "emoji-demo")
    os.makedirs(demo)
    for k, v in hf_files.items():
        with open(os.path.join(demo, k), "wb") as f:
            f.write(v)
    res = cli.json("list with the bundled model", ["models", "list"])
    first = res["models"][0] if res else {}
    check("bundled model first", first.get("name") == "emoji-demo" and first.get("source") == "bundled"
          and first.get("installed") is True and first.get("path") == demo
          and first.get("removable") is False and "emoji" in first.get("description", "").lower()
          and first.get("size") == sum(len(v) for v in hf_files.values())
          and first.get("size_is_estimate") is False, str(first))
    info = cli.json("info without --model uses the bundled model", ["info", "--backend", "cpu"])
    check("bundled model loads", info is not None and info["format"] == "hf")
    cli.error("bundled model cannot be removed", ["models", "remove", "emoji-demo"], 1,
              ["emoji-demo", "cannot be removed"])
    res = cli.json("path of the bundled model", ["models", "path", "emoji-demo"])
    check("bundled path", res == {"name": "emoji-demo", "path": demo}, str(res))


def test_full_download(cli, hub, hf_files, tmp):
    hub.take_requests()
    rc, out, err = cli.run(["models", "download", "clip-vit-base-patch32"])
    check("catalogue download", rc == 0, "exit %d, stderr %r" % (rc, err))
    path = os.path.join(cli.models, "clip-vit-base-patch32")
    res = json.loads(out) if rc == 0 else {}
    check("download prints name and path", res == {"name": "clip-vit-base-patch32", "path": path}, out)
    check("progress line per file", "clipscope: downloading model.safetensors" in err, err)
    got = installed_files(cli, "clip-vit-base-patch32")
    check("installed bytes are the hub's", same_model(got, hf_files), str(sorted(got)))
    check("no pickle downloaded", "pytorch_model.bin" not in got, str(sorted(got)))
    check("no staging left", not any(n.endswith(".partial") for n in os.listdir(cli.models)),
          str(os.listdir(cli.models)))
    with open(os.path.join(path, ".clipscope.json")) as f:
        meta = json.load(f)
    check("origin recorded", meta == {"name": "clip-vit-base-patch32", "repo": "openai/clip-vit-base-patch32",
                                      "revision": "refs/pr/66"}, str(meta))
    reqs = hub.take_requests()
    check("conversion pull request used", any("refs%2Fpr%2F66" in p for _, p, _ in reqs),
          str([p for _, p, _ in reqs]))
    check("second page of pull requests read", any("discussions?" in p and "p=1" in p for _, p, _ in reqs),
          str([p for _, p, _ in reqs]))
    check("no Authorization without HF_TOKEN", not any("Authorization" in h for _, _, h in reqs))
    check("weights came from the CDN", any(r == "cdn" for r, _, _ in reqs))

    entry = cli.entry("clip-vit-base-patch32")
    check("listed as installed", entry is not None and entry["installed"] and entry["path"] == path
          and entry["size"] == sum(len(v) for v in got.values()) and not entry["size_is_estimate"],
          str(entry))
    res = cli.json("path of a catalogue model", ["models", "path", "clip-vit-base-patch32"])
    check("path JSON", res == {"name": "clip-vit-base-patch32", "path": path}, str(res))
    res = cli.json("path by repository id", ["models", "path", "openai/clip-vit-base-patch32"])
    check("repository id maps to the catalogue", res is not None and res["path"] == path, str(res))

    img = os.path.join(tmp, "red.png")
    write_png(img)
    res = cli.json("classify with an installed NAME",
                   ["classify", "--model", "clip-vit-base-patch32", "--backend", "cpu",
                    "--label", "cat", "--label", "dog", img])
    check("classify result", res is not None and len(res["images"][0]["probabilities"]) == 2)
    res = cli.json("download again is a no-op", ["models", "download", "clip-vit-base-patch32"])
    check("second download", res is not None and res["path"] == path)
    check("second download fetched nothing", not any(r == "cdn" for r, _, _ in hub.take_requests()))
    cli.error("--model of a model not installed", ["info", "--model", "clip-vit-large-patch14"], 1,
              ["clip-vit-large-patch14", "not installed"])


def test_hub_open_clip(cli, hub, oc_files):
    res = cli.json("download an open_clip repository", ["models", "download", "tester/tiny-oc"])
    folder = "tester--tiny-oc"
    got = installed_files(cli, folder)
    check("open_clip files installed", res is not None and same_model(got, oc_files)
          and res["path"] == os.path.join(cli.models, folder), str(sorted(got)))
    check("tokenizer taken from OpenAI's repository", "vocab.json" in got and "merges.txt" in got)
    entry = cli.entry("tester/tiny-oc")
    check("hub model listed", entry is not None and entry["source"] == "hub"
          and entry["format"] == "open_clip" and entry["installed"]
          and entry["repo"] == "tester/tiny-oc", str(entry))
    info = cli.json("info on a hub model by NAME", ["info", "--model", "tester/tiny-oc", "--backend", "cpu"])
    check("ResNet open_clip model loads", info is not None and info["vision"]["kind"] == "resnet")
    res = cli.json("remove a hub model", ["models", "remove", "tester/tiny-oc"])
    check("removed", res == {"name": "tester/tiny-oc", "removed": True}
          and not os.path.exists(os.path.join(cli.models, folder)), str(res))
    cli.error("remove twice", ["models", "remove", "tester/tiny-oc"], 1, ["not installed"])
    cli.error("path after remove", ["models", "path", "tester/tiny-oc"], 1, ["not installed"])


def test_resume(cli, hub, hf_files):
    weights = hf_files["model.safetensors"]
    err = cli.error("interrupted download fails", ["models", "download", "tester/resume"], 1,
                    ["model.safetensors"])
    check("interruption says it resumes", "run the same command to resume" in err, err)
    part = os.path.join(cli.models, ".tester--resume.partial", "model.safetensors.part")
    have = os.path.getsize(part) if os.path.exists(part) else -1
    check("partial file kept", have == 100000, str(have))
    entry = cli.entry("tester/resume")
    check("listed as partly downloaded", entry is not None and not entry["installed"]
          and entry["partial_bytes"] >= 100000, str(entry))
    hub.take_requests()
    res = cli.json("resumed download", ["models", "download", "tester/resume"])
    reqs = hub.take_requests()
    ranges = [h.get("Range") for r, _, h in reqs if r == "cdn"]
    check("resume sent a Range header", ranges == ["bytes=100000-"], str(ranges))
    got = installed_files(cli, "tester--resume")
    check("resumed file is whole and right", res is not None and got.get("model.safetensors") == weights)

    # A server that answers the Range request with the whole file.
    cli.error("interrupted again", ["models", "download", "tester/range200"], 1, ["model.safetensors"])
    res = cli.json("200 answer to Range restarts the file", ["models", "download", "tester/range200"])
    got = installed_files(cli, "tester--range200")
    check("restarted file is right", res is not None and got.get("model.safetensors") == weights)


def test_cancel(cli, hub):
    p = cli.popen(["models", "download", "tester/cancel"])
    part = os.path.join(cli.models, ".tester--cancel.partial", "model.safetensors.part")
    deadline = time.time() + 60
    while time.time() < deadline and not (os.path.exists(part) and os.path.getsize(part) > 8192):
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    check("Ctrl-C cancels the download", p.returncode == 1 and "clipscope: error:" in err
          and "cancel" in err.lower() and out == "", "exit %s, %r" % (p.returncode, err))
    check("cancelled download kept its part", os.path.exists(part) and os.path.getsize(part) > 0)
    hub.slow.discard("tester/cancel")
    hub.take_requests()
    res = cli.json("download after cancel", ["models", "download", "tester/cancel"])
    ranges = [h.get("Range") for r, _, h in hub.take_requests() if r == "cdn"]
    check("cancelled download resumed", res is not None and len(ranges) == 1
          and ranges[0] is not None and ranges[0].startswith("bytes="), str(ranges))


def test_corrupt(cli, hub):
    err = cli.error("corrupt file rejected", ["models", "download", "tester/corrupt"], 1,
                    ["model.safetensors", "SHA-256"])
    sha = hashlib.sha256(hub.files[("tester/corrupt", "main")]["model.safetensors"]).hexdigest()
    check("error gives both hashes", sha in err and len([w for w in err.split() if len(w.strip(",;")) == 64]) >= 2, err)
    check("corrupt model not installed", not os.path.exists(os.path.join(cli.models, "tester--corrupt")))
    part = os.path.join(cli.models, ".tester--corrupt.partial", "model.safetensors.part")
    check("corrupt part deleted", not os.path.exists(part))
    cli.error("corrupt model has no path", ["models", "path", "tester/corrupt"], 1, ["not installed"])
    res = cli.json("remove a partial download", ["models", "remove", "tester/corrupt"])
    check("partial download removed", res is not None
          and not os.path.exists(os.path.join(cli.models, ".tester--corrupt.partial")))


def test_errors(cli, hub):
    cli.error("404 repository", ["models", "download", "tester/no-such-repo"], 1,
              ["tester/no-such-repo", "no such repository"])
    cli.error("pickle-only repository", ["models", "download", "tester/pickle-only"], 1,
              ["tester/pickle-only", "pickle"])
    cli.error("gated repository without a token", ["models", "download", "tester/gated"], 1,
              ["tester/gated", "401", "HF_TOKEN"])
    hub.take_requests()
    res = cli.json("gated repository with HF_TOKEN", ["models", "download", "tester/gated"],
                   env={"HF_TOKEN": TOKEN})
    reqs = hub.take_requests()
    auth = [h.get("Authorization") for r, _, h in reqs if r == "hub"]
    check("token sent to the hub", res is not None and auth and all(a == "Bearer " + TOKEN for a in auth),
          str(auth))
    check("token not sent to the CDN", not any("Authorization" in h for r, _, h in reqs if r == "cdn"))

    hub.take_requests()
    res = cli.json("download without the listing API", ["models", "download", "tester/nolist"])
    reqs = [p for _, p, _ in hub.take_requests()]
    check("fell back to the known file names", res is not None and any("/api/" in p for p in reqs)
          and any(p.endswith("/resolve/main/config.json") for p in reqs), str(reqs))
    check("fallback installed the model", "model.safetensors" in installed_files(cli, "tester--nolist"))


def test_family_files(cli, hub):
    """The files another family's tokenizer needs are fetched; a CLIP
    repository's downloads are what they were."""
    hub.take_requests()
    cli.error("a SentencePiece repository that is no CLIP", ["models", "download", "tester/tiny-spm"], 1,
              ["tester/tiny-spm"])
    fetched = [p.rsplit("/", 1)[-1] for r, p, _ in hub.take_requests() if "/resolve/" in p]
    check("SentencePiece files fetched", {"spiece.model", "tokenizer_config.json"} <= set(fetched), str(fetched))
    check("no CLIP BPE or README for it", not {"vocab.json", "merges.txt", "README.md",
                                                "special_tokens_map.json"} & set(fetched), str(fetched))
    cli.error("a WordPiece repository that is no CLIP", ["models", "download", "tester/tiny-wordpiece"], 1,
              ["tester/tiny-wordpiece"])
    fetched = [p.rsplit("/", 1)[-1] for r, p, _ in hub.take_requests() if "/resolve/" in p]
    check("Chinese-CLIP's vocab.txt fetched, not its tokenizer.json", "vocab.txt" in fetched
          and "tokenizer.json" not in fetched and "vocab.json" not in fetched, str(fetched))
    res = cli.json("CLIP repository with extra tokenizer files", ["models", "download", "tester/clip-extra"])
    got = installed_files(cli, "tester--clip-extra")
    check("only CLIP's files for a CLIP", res is not None and "vocab.json" in got
          and not {"tokenizer.json", "tokenizer_config.json", "vocab.txt"} & set(got), str(sorted(got)))


def test_timeout(cli):
    hang = HangingServer()
    start = time.time()
    err = cli.error("hanging server times out", ["models", "download", "tester/tiny-hf"], 1, ["tester/tiny-hf"],
                    env={"HF_ENDPOINT": "http://127.0.0.1:%d" % hang.port, "CLIPSCOPE_HTTP_TIMEOUT": "2"},
                    timeout=60)
    elapsed = time.time() - start
    check("timeout within seconds", elapsed < 20, "%.1f s" % elapsed)
    check("timeout named", "timed out" in err.lower() and "127.0.0.1:%d" % hang.port in err, err)
    hang.sock.close()


def limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_disk_full(cli):
    err = cli.error("write error", ["models", "download", "tester/disk"], 1,
                    ["model.safetensors", "File too large"], preexec_fn=limit_file_size)
    check("not installed after a write error", not os.path.exists(os.path.join(cli.models, "tester--disk")))
    res = cli.json("download after the disk has room", ["models", "download", "tester/disk"])
    check("installed after the retry", res is not None
          and "model.safetensors" in installed_files(cli, "tester--disk"))


def test_local(cli, tmp, hf_files):
    good = os.path.join(tmp, "my-model")
    os.makedirs(good)
    for k, v in hf_files.items():
        with open(os.path.join(good, k), "wb") as f:
            f.write(v)
    res = cli.json("add a local folder", ["models", "add", good])
    check("local entry", res is not None and res["name"] == "my-model" and res["source"] == "local"
          and res["installed"] and res["format"] == "hf", str(res))
    res = cli.json("add it again under another name", ["models", "add", good, "--name", "second"])
    cli.error("add a taken name", ["models", "add", good, "--name", "second"], 1, ["second", "already"])
    cli.error("add under a catalogue name", ["models", "add", good, "--name", "clip-rn50-openai"], 1,
              ["clip-rn50-openai"])
    info = cli.json("--model with a local NAME", ["info", "--model", "second", "--backend", "cpu"])
    check("local model loads by NAME", info is not None)
    res = cli.json("path of a local model", ["models", "path", "my-model"])
    check("local path", res is not None and os.path.realpath(res["path"]) == os.path.realpath(good))
    entry = cli.entry("second")
    check("local model listed", entry is not None and entry["source"] == "local" and good in entry["description"])
    res = cli.json("remove a local model", ["models", "remove", "second"])
    check("local folder kept on remove", res is not None and os.path.isfile(os.path.join(good, "config.json")))

    bad = os.path.join(tmp, "not-a-model")
    os.makedirs(bad)
    with open(os.path.join(bad, "config.json"), "w") as f:
        f.write("{}")
    cli.error("add a folder that is no model", ["models", "add", bad], 1, [bad])
    check("bad folder not added", cli.entry("not-a-model") is None)
    cli.error("add a missing folder", ["models", "add", os.path.join(tmp, "nowhere")], 1, ["nowhere"])


def main():
    if not os.path.exists(CLI):
        print("FAILED: no clipscope binary at %s" % CLI)
        return 1
    with tempfile.TemporaryDirectory(prefix="clipscope-models-") as tmp:
        hub, hf_files, oc_files = build_hub(tmp)
        server = serve(make_handler(hub, "hub"))
        cdn = serve(make_handler(hub, "cdn"))
        hub.cdn_port = cdn.server_address[1]
        cli = Cli(tmp, server.server_address[1])
        os.makedirs(cli.data)
        test_usage(cli)
        test_list_and_default(cli, hf_files)
        test_full_download(cli, hub, hf_files, tmp)
        test_hub_open_clip(cli, hub, oc_files)
        test_resume(cli, hub, hf_files)
        test_cancel(cli, hub)
        test_corrupt(cli, hub)
        test_errors(cli, hub)
        test_family_files(cli, hub)
        test_timeout(cli)
        test_disk_full(cli)
        test_local(cli, tmp, hf_files)
        server.shutdown()
        cdn.shutdown()
        shutil.rmtree(cli.xdg, ignore_errors=True)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("all model store checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
