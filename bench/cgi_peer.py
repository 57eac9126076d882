"""A minimal CGI web server for `git http-backend`, the fallback peer when nginx cannot be installed.

Standard library only. Unlike `http.server.CGIHTTPRequestHandler` it accepts chunked request bodies
(git sends large pushes chunked) and streams both directions, so it does not hold a pack in memory.

    python bench/cgi_peer.py --port 8080 --root /srv/git --user admin --password secret
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import BinaryIO

HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
PREFIX = "/scm"


def _copy_body(rfile: BinaryIO, dst: BinaryIO, length: int | None) -> None:
    """Copy a request body (Content-Length or chunked) to the CGI's stdin, then close it."""
    try:
        if length is not None:
            while length > 0:
                chunk = rfile.read(min(length, 1 << 16))
                if not chunk:
                    break
                dst.write(chunk)
                length -= len(chunk)
        else:
            while True:
                size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                        pass
                    break
                remaining = size
                while remaining > 0:
                    chunk = rfile.read(min(remaining, 1 << 16))
                    if not chunk:
                        return
                    dst.write(chunk)
                    remaining -= len(chunk)
                rfile.readline()
    except BrokenPipeError:
        pass
    finally:
        with contextlib.suppress(BrokenPipeError):
            dst.close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = "."
    user = ""
    auth = ""

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._cgi()

    def do_POST(self) -> None:
        self._cgi()

    def _cgi(self) -> None:
        path, _, query = self.path.partition("?")
        if not path.startswith(PREFIX + "/"):
            self._plain(404, b"not found\n")
            return
        if self.headers.get("Authorization", "") != self.auth:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        env = {**os.environ, "GIT_PROJECT_ROOT": self.root, "GIT_HTTP_EXPORT_ALL": "1",
               "REQUEST_METHOD": self.command, "PATH_INFO": path[len(PREFIX):], "QUERY_STRING": query,
               "CONTENT_TYPE": self.headers.get("Content-Type", ""), "REMOTE_USER": self.user,
               "REMOTE_ADDR": self.client_address[0], "SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1"}
        for name in ("Git-Protocol", "Content-Encoding"):
            if self.headers.get(name):
                env["HTTP_" + name.upper().replace("-", "_")] = self.headers[name]
        length = self.headers.get("Content-Length")
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        if length is not None and not chunked:
            env["CONTENT_LENGTH"] = length
        proc = subprocess.Popen([HTTP_BACKEND], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stdin is not None and proc.stdout is not None
        feeder = threading.Thread(target=_copy_body, daemon=True,
                                  args=(self.rfile, proc.stdin, None if chunked else int(length or 0)))
        feeder.start()
        status, headers = 200, []
        while True:
            line = proc.stdout.readline().rstrip(b"\r\n")
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            else:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while True:
            data = proc.stdout.read1(1 << 16)
            if not data:
                break
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.write(b"0\r\n\r\n")
        feeder.join()
        proc.wait()

    def _plain(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    args = p.parse_args(argv)
    if not shutil.which(HTTP_BACKEND):
        raise SystemExit(f"{HTTP_BACKEND} not found")
    Handler.root = os.path.abspath(args.root)
    Handler.user = args.user
    Handler.auth = "Basic " + base64.b64encode(f"{args.user}:{args.password}".encode()).decode()
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
