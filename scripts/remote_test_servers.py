#!/usr/bin/env python3
"""Loopback servers for ptinspect's remote tests and scripts/bench-remote (stdlib only).

Starts, on 127.0.0.1 and free ports:
  - nginx serving Fixtures/ (Range support, an access log with the bytes sent), when installed;
  - a fault server of our own: the same files behind faults (no Range support, a dropped
    connection, a changed ETag, 416, 404, 401 until a token, a redirect to another host, a slow
    answer, a truncated body, 503/429 then success) and a Hugging Face Hub-like API
    (/api/models/{repo}/revision/{rev}, /{repo}/resolve/{rev}/{path} redirecting to nginx);
  - a second host (another port, named `localhost`) that records every Authorization header it
    is sent: a redirect must never carry the token there;
  - moto in server mode (S3), when installed, with bucket `ptinspect` holding Fixtures/.

Prints one JSON line with the ports, then runs until standard input closes (the test process
exits) or SIGTERM, and stops what it started.

  python3 scripts/remote_test_servers.py [--root Fixtures] [--no-moto]
"""

import argparse
import http.server
import json
import os
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

TOKEN = "secret-token-123"
HUB_REPOS = {
    # repo -> (folder under root, files listed; None = every file in the folder)
    "models/test/cifar": ("", ["README.md", "config.json", "cifar_cnn.pt"]),
    "models/test/sharded": ("sharded", None),
    "models/test/sharded-bin": ("sharded_bin", None),
    "models/test/many": ("", ["cifar_cnn.pt", "tied.pt"]),
    "models/test/private": ("", ["small_cnn.safetensors"]),
    "datasets/test/data": ("numpy", ["weights.npy"]),
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class State:
    root = ""
    nginx_port = 0
    fault_port = 0
    second_port = 0
    lock = threading.Lock()
    counts = {}
    seen_auth = []

    @classmethod
    def count(cls, key):
        with cls.lock:
            cls.counts[key] = cls.counts.get(key, 0) + 1
            return cls.counts[key]


def parse_range(header, size):
    """(start, end inclusive) for `bytes=a-b`, `bytes=a-`, `bytes=-n`; None when absent."""
    if not header or not header.startswith("bytes="):
        return None
    spec = header[6:].split(",")[0].strip()
    a, _, b = spec.partition("-")
    if a == "":
        n = int(b)
        return (max(0, size - n), size - 1)
    start = int(a)
    end = int(b) if b else size - 1
    return (start, min(end, size - 1))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ptinspect-fault/1"

    def log_message(self, *args):
        pass

    # -- helpers ---------------------------------------------------------------------------

    def send_plain(self, status, text="", headers=()):
        body = text.encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def file_bytes(self, rel):
        path = os.path.normpath(os.path.join(State.root, rel))
        if not path.startswith(State.root) or not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return f.read()

    def serve(self, data, etag='"v1"', ignore_range=False, truncate=False, drop=False):
        size = len(data)
        r = None if ignore_range else parse_range(self.headers.get("Range"), size)
        if r is not None and (r[0] >= size or r[0] > r[1]):
            return self.send_plain(416, "", [("Content-Range", "bytes */%d" % size)])
        if r is None:
            status, body = 200, data
        else:
            status, body = 206, data[r[0]:r[1] + 1]
        self.send_response(status)
        self.send_header("ETag", etag)
        self.send_header("Accept-Ranges", "none" if ignore_range else "bytes")
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (r[0], r[1], size))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if drop or truncate:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            if drop:  # a reset (RST), not a clean close
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                os.close(self.connection.detach())
            self.close_connection = True
            return
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- routes ----------------------------------------------------------------------------

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?")[0]
        parts = path.lstrip("/").split("/", 1)
        kind, rest = parts[0], parts[1] if len(parts) > 1 else ""
        if self.server.server_address[1] == State.second_port:
            return self.second_host(path)
        if path == "/_seen":
            return self.send_plain(200, json.dumps(State.seen_auth))
        if path == "/_reset":
            with State.lock:
                State.counts.clear()
                State.seen_auth.clear()
            return self.send_plain(200, "ok")
        if kind == "api":
            return self.hub_api(rest)
        if "/resolve/" in path:
            return self.hub_resolve(path)
        data = self.file_bytes(rest)
        if data is None or kind == "404":
            return self.send_plain(404, "not found")
        if kind == "ok":
            return self.serve(data)
        if kind == "norange":
            return self.serve(data, ignore_range=True)
        if kind == "drop":
            return self.serve(data, drop=self.headers.get("Range", "").startswith("bytes=0-") is False)
        if kind == "droponce":
            n = State.count("droponce/" + rest)
            return self.serve(data, drop=(n == 2))
        if kind == "truncated":
            return self.serve(data, truncate=self.headers.get("Range", "").startswith("bytes=0-") is False)
        if kind == "etag":
            n = State.count("etag/" + rest)
            return self.serve(data, etag='"v%d"' % n)
        if kind == "416":
            if State.count("416/" + rest) == 1:
                return self.serve(data)
            return self.send_plain(416, "", [("Content-Range", "bytes */%d" % len(data))])
        if kind == "auth":
            if self.headers.get("Authorization") != "Bearer " + TOKEN:
                return self.send_plain(401, "unauthorized", [("WWW-Authenticate", "Bearer")])
            return self.serve(data)
        if kind == "redirect":
            if self.headers.get("Authorization") != "Bearer " + TOKEN:
                return self.send_plain(401, "unauthorized")
            loc = "http://localhost:%d/%s" % (State.second_port, rest)
            return self.send_plain(302, "", [("Location", loc)])
        if kind == "slow":
            time.sleep(5)
            return self.serve(data)
        if kind == "flaky":
            if State.count("flaky/" + rest) % 2 == 1:
                return self.send_plain(503, "busy", [("Retry-After", "0")])
            return self.serve(data)
        if kind == "ratelimit":
            if State.count("ratelimit/" + rest) == 1:
                return self.send_plain(429, "slow down", [("Retry-After", "1")])
            return self.serve(data)
        if kind == "busy":
            return self.send_plain(503, "busy", [("Retry-After", "0")])
        return self.send_plain(404, "unknown route")

    def second_host(self, path):
        with State.lock:
            State.seen_auth.append(self.headers.get("Authorization"))
        data = self.file_bytes(path.lstrip("/"))
        if data is None:
            return self.send_plain(404, "not found")
        return self.serve(data)

    def hub_repo(self, segments):
        """(repo key, remaining segments) for models/datasets/spaces paths."""
        if segments and segments[0] in ("datasets", "spaces"):
            return "%s/%s/%s" % (segments[0], segments[1], segments[2]), segments[3:]
        return "models/%s/%s" % (segments[0], segments[1]), segments[2:]

    def hub_api(self, rest):
        # api/{models|datasets|spaces}/{owner}/{repo}/revision/{rev}
        seg = rest.split("/")
        if len(seg) < 5 or seg[3] != "revision":
            return self.send_plain(404, "{}")
        key = "%s/%s/%s" % (seg[0], seg[1], seg[2])
        if key == "models/test/noapi":
            return self.send_plain(500, "api down")
        if key not in HUB_REPOS:
            return self.send_plain(404, '{"error":"Repository not found"}')
        if key == "models/test/private" and self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self.send_plain(401, '{"error":"Invalid credentials"}')
        folder, files = HUB_REPOS[key]
        if files is None:
            files = sorted(os.listdir(os.path.join(State.root, folder)))
        body = {"id": key.split("/", 1)[1], "sha": "0" * 40,
                "siblings": [{"rfilename": f} for f in files]}
        return self.send_plain(200, json.dumps(body), [("Content-Type", "application/json")])

    def hub_resolve(self, path):
        # /[datasets/]{owner}/{repo}/resolve/{rev}/{file}
        before, _, after = path.lstrip("/").partition("/resolve/")
        rev, _, file = after.partition("/")
        key, _ = self.hub_repo(before.split("/"))
        if key == "models/test/noapi":
            key, folder, files = key, "", ["cifar_cnn.pt", "pytorch_model.bin"]
            if file != "pytorch_model.bin":
                return self.send_plain(404, "Entry not found")
            target = "/cifar_cnn.pt"
        else:
            if key not in HUB_REPOS:
                return self.send_plain(404, "Repository not found")
            if key == "models/test/private" and self.headers.get("Authorization") != "Bearer " + TOKEN:
                return self.send_plain(401, "Invalid credentials")
            folder, files = HUB_REPOS[key]
            listed = files if files is not None else os.listdir(os.path.join(State.root, folder))
            if file not in listed:
                return self.send_plain(404, "Entry not found")
            real = "cifar_cnn.pt" if file == "pytorch_model.bin" else file
            target = "/" + "/".join(p for p in (folder, real) if p)
        # As the Hub does: the file is served by another host (a CDN), by redirect. The second
        # host records what it is sent; with nginx absent, it serves the file itself.
        if State.nginx_port:
            loc = "http://localhost:%d%s" % (State.nginx_port, target)
        else:
            loc = "http://localhost:%d%s" % (State.second_port, target)
        return self.send_plain(302, "", [("Location", loc), ("X-Repo-Commit", "0" * 40)])


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def start_nginx(root, workdir):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not nginx:
        return None, None, None
    port = free_port()
    log = os.path.join(workdir, "access.log")
    conf = os.path.join(workdir, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off;
worker_processes 1;
pid %(w)s/nginx.pid;
error_log %(w)s/error.log;
events { worker_connections 256; }
http {
  log_format bytes '$request_method $request_uri $status $body_bytes_sent "$http_range"';
  access_log %(log)s bytes;
  client_body_temp_path %(w)s; proxy_temp_path %(w)s; fastcgi_temp_path %(w)s;
  uwsgi_temp_path %(w)s; scgi_temp_path %(w)s;
  types { application/octet-stream bin; application/json json; }
  default_type application/octet-stream;
  server { listen 127.0.0.1:%(port)d; listen [::1]:%(port)d; root %(root)s; }
}
""" % {"w": workdir, "log": log, "port": port, "root": root})
    proc = subprocess.Popen([nginx, "-c", conf, "-e", os.path.join(workdir, "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_port(port):
        # No IPv6 on this machine: listen on 127.0.0.1 only.
        proc.kill()
        with open(conf) as f:
            text = f.read().replace(" listen [::1]:%d;" % port, "")
        with open(conf, "w") as f:
            f.write(text)
        proc = subprocess.Popen([nginx, "-c", conf, "-e", os.path.join(workdir, "error.log")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(port):
            proc.kill()
            return None, None, None
    return proc, port, log


def wait_port(port, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def start_moto(root, children):
    try:
        import moto  # noqa: F401
    except ImportError:
        return None, None
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children.append(proc)
    if not wait_port(port, 30):
        return None, None
    base = "http://127.0.0.1:%d" % port
    put(base + "/ptinspect", b"")
    for rel in ["cifar_cnn.pt", "small_cnn.safetensors", "sharded/model.safetensors.index.json",
                "sharded/model-00001-of-00002.safetensors", "sharded/model-00002-of-00002.safetensors",
                "legacy_cnn.pt"]:
        with open(os.path.join(root, rel), "rb") as f:
            put(base + "/ptinspect/" + rel, f.read())
    return proc, port


def put(url, data):
    # moto accepts unsigned requests; without a content type it parses the body as a form.
    req = urllib.request.Request(url, data=data, method="PUT",
                                 headers={"Content-Type": "application/octet-stream"})
    urllib.request.urlopen(req, timeout=30).read()


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--root", default=os.path.join(here, "..", "Fixtures"))
    ap.add_argument("--no-moto", action="store_true")
    args = ap.parse_args()
    State.root = os.path.realpath(args.root)
    workdir = tempfile.mkdtemp(prefix="ptinspect-remote-")
    children = []

    nginx, State.nginx_port, log = start_nginx(State.root, workdir)
    if nginx:
        children.append(nginx)
    State.nginx_port = State.nginx_port or 0

    fault = Server(("127.0.0.1", 0), Handler)
    State.fault_port = fault.server_address[1]
    second = Server(("127.0.0.1", 0), Handler)
    State.second_port = second.server_address[1]
    for s in (fault, second):
        threading.Thread(target=s.serve_forever, daemon=True).start()

    def stop(*_):
        for c in children:
            c.terminate()
        for c in children:
            try:
                c.wait(5)
            except subprocess.TimeoutExpired:
                c.kill()
        shutil.rmtree(workdir, ignore_errors=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        moto_proc, moto_port = (None, None) if args.no_moto else start_moto(State.root, children)
    except Exception as e:  # noqa: BLE001
        print("remote_test_servers: moto failed: %s" % e, file=sys.stderr)
        moto_proc, moto_port = None, None
    print(json.dumps({"nginx": State.nginx_port or None, "accessLog": log, "fault": State.fault_port,
                      "second": State.second_port, "moto": moto_port, "token": TOKEN}), flush=True)
    try:
        while sys.stdin.read(1):
            pass
    except KeyboardInterrupt:
        pass
    stop()


if __name__ == "__main__":
    main()
