"""A small HTTP server on 127.0.0.1 for the live-tier tests (no network needed).

It serves static bytes (with HEAD and HTTP Range requests, as GDAL's /vsicurl/ and a resumed
download need) and dynamic handlers (STAC search, token, OData). Each test starts one on a free
port and stops it at teardown::

    with LoopbackServer() as srv:
        srv.add_bytes("/a.tif", data)
        srv.add_handler("POST", "/search", lambda req: (200, {"type": "FeatureCollection"}))
        srv.url("/a.tif")

Faulty servers for the bad-input tests: :meth:`LoopbackServer.stall` (accepts, never answers),
:meth:`LoopbackServer.trickle` (answers one byte at a time), :meth:`LoopbackServer.cut_next_download`
(drops the connection mid-body), :meth:`LoopbackServer.redirect`; a handler can lie freely
(HTML where JSON is expected, invalid JSON, an HTTP error).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """What a dynamic handler sees."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


#: A handler returns (status, body) or (status, body, headers); a dict/list body is sent as JSON.
Handler = Callable[[Request], tuple]


@dataclass
class _State:
    files: dict[str, bytes] = field(default_factory=dict)
    handlers: dict[tuple[str, str], Handler] = field(default_factory=dict)
    log: list[tuple[str, str, str]] = field(default_factory=list)
    # path -> (bytes after which a GET is cut (connection closed), for how many GETs)
    cut_after: dict[str, tuple[int, int]] = field(default_factory=dict)
    # path -> bearer tokens accepted (others get HTTP 401)
    bearer: dict[str, set[str]] = field(default_factory=dict)
    # path -> ("stall", None), ("trickle", seconds between bytes) or ("trickle-body", seconds)
    faults: dict[str, tuple[str, float | None]] = field(default_factory=dict)
    # path -> a text the query string must hold (else HTTP 403, as Azure blob storage unsigned)
    query_needs: dict[str, str] = field(default_factory=dict)
    # path -> (status, location) of a redirect
    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    # (method, path, query string, authorization header) of every request
    full_log: list[tuple[str, str, str, str]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: _State

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _request(self) -> Request:
        parts = urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        self.state.full_log.append((self.command, parts.path, parts.query,
                                    self.headers.get("Authorization", "")))
        return Request(self.command, parts.path, parse_qs(parts.query),
                       {k.lower(): v for k, v in self.headers.items()}, body)

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        body = body if isinstance(body, bytes) else str(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _dispatch(self) -> None:
        req = self._request()
        self.state.log.append((req.method, req.path, req.headers.get("range", "")))
        fault = self.state.faults.get(req.path)
        if fault is not None:
            self._fault(req, *fault)
            return
        if req.path in self.state.redirects:
            status, location = self.state.redirects[req.path]
            self._send(status, b"", {"Location": location})
            return
        handler = self.state.handlers.get((req.method, req.path))
        if handler is None and req.method == "HEAD":
            handler = self.state.handlers.get(("GET", req.path))
        tokens = self.state.bearer.get(req.path)
        need = self.state.query_needs.get(req.path)
        if need is not None and need not in self.state.full_log[-1][2]:
            self._send(403, b"<Error><Code>AuthenticationFailed</Code></Error>",
                       {"Content-Type": "application/xml"})
        elif tokens is not None and req.headers.get("authorization", "").removeprefix(
                "Bearer ") not in tokens:
            self._send(401, {"detail": "Expired signature or invalid token"})
        elif handler is not None:
            self._send(*handler(req))
        elif req.path in self.state.files:
            self._file(req)
        else:
            self._send(404, {"code": "NotFound", "description": f"no {req.path}"})

    def _file(self, req: Request) -> None:
        data = self.state.files[req.path]
        start, end = 0, len(data) - 1
        m = re.match(r"bytes=(\d+)-(\d*)", req.headers.get("range", ""))
        if m:
            start = int(m.group(1))
            end = min(int(m.group(2)) if m.group(2) else end, len(data) - 1)
            if start >= len(data):
                self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                return
        cut = None
        if req.method == "GET" and req.path in self.state.cut_after:
            cut, times = self.state.cut_after[req.path]
            if times <= 1:
                del self.state.cut_after[req.path]
            else:
                self.state.cut_after[req.path] = (cut, times - 1)
        status = 206 if m else 200
        self.send_response(status)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        if m:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.send_header("Content-Length", str(end - start + 1))
        if cut is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        if req.method == "HEAD":
            return
        chunk = data[start:end + 1]
        if cut is not None:  # send part of the body, then drop the connection
            self.wfile.write(chunk[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(chunk)

    def _fault(self, req: Request, kind: str, interval: float | None) -> None:
        """Stall (send nothing until the server stops) or trickle a whole answer byte by byte."""
        self.close_connection = True
        if kind == "stall":
            self.state.stop.wait(120)
            return
        handler = self.state.handlers.get((req.method, req.path))
        body = self.state.files.get(req.path, b"")
        status, headers = 200, {"Content-Type": "application/octet-stream"}
        if handler is not None:
            status, body, *rest = handler(req)
            headers = rest[0] if rest else {}
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                headers = {"Content-Type": "application/json", **headers}
        head = f"HTTP/1.1 {status} OK\r\nContent-Length: {len(body)}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()) + "Connection: close\r\n\r\n"
        slow = head.encode() + body
        try:
            if kind == "trickle-body":  # headers at once, then the body byte by byte
                self.wfile.write(head.encode())
                self.wfile.flush()
                slow = body
            for byte in slow:
                if self.state.stop.wait(interval or 0.2):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        except OSError:  # the client gave up: what the tests want
            return

    do_GET = do_POST = do_HEAD = _dispatch


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 and a free port; use as a context manager."""

    def __init__(self) -> None:
        self.state = _State()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add_bytes(self, path: str, data: bytes) -> str:
        self.state.files[path] = data
        return self.url(path)

    def add_handler(self, method: str, path: str, handler: Handler) -> None:
        self.state.handlers[(method, path)] = handler

    def cut_next_download(self, path: str, *, after: int, times: int = 1) -> None:
        """Close the connection after ``after`` bytes on the next ``times`` GETs of ``path``."""
        self.state.cut_after[path] = (after, times)

    def stall(self, path: str) -> None:
        """Accept requests of ``path`` and never answer (until the server stops)."""
        self.state.faults[path] = ("stall", None)

    def trickle(self, path: str, *, interval: float = 0.2, body_only: bool = False) -> None:
        """Answer ``path`` (its handler or bytes) one byte every ``interval`` seconds, status line
        and headers included (or, ``body_only``, headers at once and then the body), so that no
        single read ever waits long."""
        self.state.faults[path] = ("trickle-body" if body_only else "trickle", interval)

    def redirect(self, path: str, location: str, *, status: int = 307) -> None:
        """Answer ``path`` with a redirect to ``location`` (e.g. another host)."""
        self.state.redirects[path] = (status, location)

    def protect_query(self, path: str, text: str) -> None:
        """Answer 403 to requests of ``path`` whose query string lacks ``text`` (e.g. ``sig=``)."""
        self.state.query_needs[path] = text

    def protect(self, path: str, tokens: set[str]) -> None:
        """Answer 401 to requests of ``path`` without one of these bearer tokens."""
        self.state.bearer[path] = tokens

    @property
    def log(self) -> list[tuple[str, str, str]]:
        return self.state.log

    @property
    def requests(self) -> list[tuple[str, str, str, str]]:
        """(method, path, query string, Authorization header) of every request received."""
        return self.state.full_log

    def __enter__(self) -> "LoopbackServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.state.stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _QuietFileHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # keep pytest's output clean
        pass


@contextlib.contextmanager
def serve_folder(directory: str | Path) -> Iterator[str]:
    """Serve a folder's files as they are (with their content types) on 127.0.0.1; yields the base URL.

    For a mirror of sample files or the built website; LoopbackServer is for handlers and byte ranges.
    """
    handler = functools.partial(_QuietFileHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
