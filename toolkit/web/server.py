"""A read-only static-file HTTP server fit for a LAN: conditional GET, gzip, Host check, timeouts, bounded workers."""

from __future__ import annotations

import collections
import contextlib
import email.utils
import errno
import functools
import gzip
import hashlib
import io
import ipaddress
import os
import queue
import selectors
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote, urlsplit

MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".wasm": "application/wasm",
    ".bin": "application/octet-stream",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
# Same-origin only; 'wasm-unsafe-eval' lets the page compile the wasm backend and nothing else is evaluated.
# No cross-origin isolation (COOP/COEP) on purpose: it would switch TF.js to its threaded wasm build, which for a
# model this small loads slower and is slower per image than the single-threaded SIMD build (docs/serve.md).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data: blob:; "
        "style-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate on every use: a 304 costs one round trip, and a rebuilt model is never served stale.
    "Cache-Control": "no-cache",
}
# gzip pays where it shrinks: TF.js bundles and .wasm binaries shrink to a third or less (docs/serve.md). Float
# weights (.bin) and raw tensors barely shrink, so they go as they are.
GZIP_TYPES = {".html", ".js", ".mjs", ".css", ".json", ".map", ".wasm", ".svg", ".txt"}
GZIP_MAX_BYTES = 16 * 2**20
GZIP_MIN_SAVING = 0.9  # keep the gzip body only when it is at most 90 % of the original

# Every connection has a deadline at every moment, enforced by the server's loop thread rather than by socket
# timeouts: a socket with a timeout costs a poll() before every recv and send (more server CPU per keep-alive
# request, docs/serve.md), and a per-call timeout cannot bound a client that trickles one byte at a time anyway.
IDLE_TIMEOUT_S = 5.0  # a connection with no request started is closed after this (Apache's keep-alive default)
HEADER_TIMEOUT_S = 10.0  # from the first byte of a request to the end of its headers, however slowly they trickle
QUEUE_TIMEOUT_S = 10.0  # a complete request waiting for a free worker is answered 503 after this
RESPONSE_TIMEOUT_S = 60.0  # to send one response: 1.1 MB needs ~9 s at 1 Mbit/s; a client that stops reading is cut
# Request line and headers together: browsers send 1-2 kB. A cap on the whole (not per line) bounds what a client can
# make the server hold: MAX_CONNECTIONS x MAX_HEADER_BYTES at most (docs/serve.md).
MAX_HEADER_BYTES = 64 * 1024
MAX_WORKERS = 64  # requests answered at once; a connection waiting for its next request holds no worker
MAX_CONNECTIONS = 1024  # open at once; a newcomer beyond this closes the longest-idle one, or is closed itself
LISTEN_BACKLOG = 1024  # the kernel caps it at net.core.somaxconn
ACCEPT_BATCH = 64  # connections accepted per turn of the loop, so that reading the others is not delayed
SWEEP_S = 0.25  # how often deadlines are checked
ANY_IP = "*ip"  # in an allow-list: every IP literal (not a valid host name, so it cannot clash with one)
# A client that goes away mid-response is normal on a network, not an error worth a traceback.
DISCONNECTS = (ConnectionError, TimeoutError)
# How long a connection closed on an unread request body keeps reading (and dropping) what the client still sends:
# closing a socket with unread bytes sends a reset, which may cost the client the response it has not read yet.
LINGER_S = 1.0


def url_segments(raw_path: str) -> list[str] | None:
    """The decoded segments of a URL path ("index.html" for a trailing slash), or None when it could step out.

    Decoded before checking, so %2e%2e and %2f are refused exactly like a literal `..` and `/`.
    """
    try:
        path = unquote(raw_path, errors="strict")
    except UnicodeDecodeError:
        return None
    if not path.startswith("/") or "\\" in path or "\0" in path:
        return None
    segments = path[1:].split("/")
    if any(s in (".", "..") for s in segments) or "" in segments[:-1]:
        return None
    if segments[-1] == "":
        segments[-1] = "index.html"
    return segments


def resolve(mounts: dict[str, Path], raw_path: str) -> Path | None:
    """The regular file a URL path names inside one mount, or None; never anything outside the mounts.

    `mounts` maps a URL path prefix without slashes ("" for the root) to a resolved real folder.
    """
    segments = url_segments(raw_path)
    if segments is None:
        return None
    # The longest mount that prefixes the path: `tfjs/...` before the site root "".
    cut = next((c for c in range(len(segments) - 1, -1, -1) if "/".join(segments[:c]) in mounts), None)
    if cut is None:
        return None
    root = mounts["/".join(segments[:cut])]
    return inside(root.joinpath(*segments[cut:]), root)


def inside(path: Path, root: Path) -> Path | None:
    """The real path of `path` when it is a regular file inside the real folder `root` (or is `root` itself)."""
    # realpath follows every symlink: a link pointing out of its root resolves outside it and is refused.
    candidate = Path(os.path.realpath(path))
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


@dataclass(frozen=True)
class ServedFile:
    """A file served at one exact URL: only while its real path lies inside `root` (a resolved folder, or the
    resolved file itself, which then admits no symlink at all) and, with `sha256`, holds exactly those bytes."""

    path: Path
    root: Path
    sha256: str | None = None


class FileChanged(Exception):
    """A pinned file no longer holds the bytes it was checked with."""


@dataclass(frozen=True)
class Entity:
    """One file's bytes as served: identity and (when worth it) gzip bodies, with its validators."""

    body: bytes
    gzip_body: bytes | None
    content_type: str
    etag: str  # strong, of the identity body; the gzip body's is the same with "-gz"
    last_modified: str | None
    mtime: int | None  # whole seconds, for If-Modified-Since


@functools.lru_cache(maxsize=256)
def _file_entity(path: str, mtime_ns: int, size: int) -> Entity:
    # Keyed by mtime and size: a file rewritten in place is read (and compressed) again, never served stale.
    # `path` is a real path: O_NOFOLLOW refuses a link swapped in for the file since it was resolved.
    with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as file:
        body = file.read()
    suffix = Path(path).suffix.lower()
    return make_entity(
        body,
        MIME_TYPES.get(suffix, "application/octet-stream"),
        etag=f"{mtime_ns:x}-{size:x}",
        mtime=mtime_ns // 10**9,
        compress=suffix in GZIP_TYPES,
    )


def make_entity(
    body: bytes, content_type: str, etag: str | None = None, mtime: int | None = None, compress: bool = True
) -> Entity:
    """An entity for `body`; without an explicit tag its validator is a digest of the body."""
    etag = etag or hashlib.sha256(body).hexdigest()[:20]
    zipped = None
    if compress and len(body) <= GZIP_MAX_BYTES:
        zipped = gzip.compress(body, compresslevel=6, mtime=0)
        if len(zipped) > GZIP_MIN_SAVING * len(body):
            zipped = None
    modified = email.utils.formatdate(mtime, usegmt=True) if mtime is not None else None
    return Entity(body, zipped, content_type, f'"{etag}"', modified, mtime)


def file_entity(path: Path) -> Entity:
    """The cached entity of a file (raises OSError when it cannot be read)."""
    stat = path.stat()
    return _file_entity(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _pinned_entity(path: str, mtime_ns: int, size: int, sha256: str) -> Entity:
    # Cached like _file_entity, so each version of a file is hashed once; a failed check is not cached.
    entity = _file_entity(path, mtime_ns, size)
    if hashlib.sha256(entity.body).hexdigest() != sha256:
        raise FileChanged(path)
    return entity


def served_entity(file: ServedFile) -> Entity | None:
    """The entity of a ServedFile, or None when it is not (or no longer) a regular file inside its root.

    Raises:
        OSError: it cannot be read.
        FileChanged: it is pinned and holds other bytes now.
    """
    real = inside(file.path, file.root)
    if real is None:
        return None
    if file.sha256 is None:
        return file_entity(real)
    stat = real.stat()
    return _pinned_entity(str(real), stat.st_mtime_ns, stat.st_size, file.sha256)


def _accepts_gzip(header: str | None) -> bool:
    for item in (header or "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip", "*"):
            q = params.strip().lower()
            return not (q.startswith("q=") and q[2:].strip().rstrip("0").rstrip(".") in ("0", ""))
    return False


def _not_modified(entity: Entity, if_none_match: str | None, if_modified_since: str | None) -> bool:
    if if_none_match is not None:
        base = entity.etag.strip('"')
        tags = {t.strip().removeprefix("W/").strip('"').removesuffix("-gz") for t in if_none_match.split(",")}
        return "*" in tags or base in tags
    if if_modified_since and entity.mtime is not None:
        try:
            since = email.utils.parsedate_to_datetime(if_modified_since).timestamp()
        except (TypeError, ValueError):
            return False
        return entity.mtime <= since
    return False


def host_name(header: str) -> str | None:
    """The host part of a Host header (lower case, IPv6 without brackets), or None when it is malformed."""
    header = header.strip().lower()
    if header.startswith("["):
        host, bracket, rest = header[1:].partition("]")
        if not bracket or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        return host
    host, _, port = header.partition(":")
    if not host or (port and not port.isdigit()) or any(c in host for c in "/@ \t"):
        return None
    return host


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(name: str, allowed: frozenset[str]) -> bool:
    """Whether a Host name may be answered; ANY_IP in `allowed` admits every IP literal."""
    return name in allowed or (ANY_IP in allowed and _is_ip(name))


def allowed_hosts(bound_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """Host names a request may carry: the bound address, localhost names when on loopback, and `extra`.

    Bound to a wildcard address, any IP literal is also accepted (ANY_IP): a DNS-rebinding page can only reach us
    under its own name, never under an address, so literal addresses are safe and names stay allow-listed.
    """
    names = {bound_host.lower().strip("[]")}
    try:
        address = ipaddress.ip_address(bound_host.strip("[]"))
    except ValueError:
        address = None
    if address is None or address.is_loopback or address.is_unspecified:
        names |= {"localhost", "127.0.0.1", "::1"}
    if address is not None and address.is_unspecified:
        names |= {socket.gethostname().lower(), socket.getfqdn().lower(), ANY_IP}
    names |= {name.lower().strip("[]") for name in extra}
    return frozenset(names)


class _SocketWriter:
    """The handler's wfile: every write goes out at once (the handler joins the headers into one write itself)."""

    def __init__(self, connection: socket.socket):
        self._connection = connection

    def write(self, data: bytes) -> int:
        self._connection.sendall(data)
        return len(data)

    def flush(self) -> None:
        pass


class Handler(BaseHTTPRequestHandler):
    """GET and HEAD of files under fixed mounts and of exact paths; every other method gets 405.

    One instance answers one request whose head the server has already read (see StaticServer).
    """

    protocol_version = "HTTP/1.1"
    policy: str | None = None  # this response's own Content-Security-Policy, if its path has one
    mounts: dict[str, Path] = {}
    generated: dict[str, Entity | ServedFile] = {}  # exact path -> entity built at start, or a file
    policies: dict[str, str] = {}  # exact path -> its own Content-Security-Policy
    hosts: frozenset[str] = frozenset()
    quiet = True

    def __init__(self, connection: socket.socket, client_address, server: StaticServer):
        # Not BaseRequestHandler's constructor, which would read and answer requests until the connection closes:
        # the server reads each request's head itself and calls respond() from a worker.
        self.request = self.connection = connection
        self.client_address = client_address
        self.server = server
        self.wfile = _SocketWriter(connection)
        self.close_connection = True
        self.body_unread = False  # the request had a body, which is never read: close without a reset
        self.command = None
        self.requestline = self.request_version = ""  # as http.server has them before a request line is parsed

    def respond(self, head: bytes) -> bool:
        """Answer the request whose request line and headers are `head`; whether the connection may carry another."""
        self.rfile = io.BytesIO(head)
        self.handle_one_request()
        return not self.close_connection

    def version_string(self) -> str:
        return "edgekit"

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self.headers.get("Content-Length", "0").strip() != "0" or "Transfer-Encoding" in self.headers:
            # A body is never read: the connection cannot carry another request after it.
            self.close_connection = self.body_unread = True
        values = self.headers.get_all("Host") or []
        if len(values) != 1 or host_name(values[0]) is None:
            # RFC 9112 3.2: a request without exactly one valid Host is malformed.
            self.send_error(HTTPStatus.BAD_REQUEST, "missing or invalid Host header")
            return False
        name = host_name(values[0])
        if not host_allowed(name, self.hosts):
            # 421 Misdirected Request (RFC 9110 15.5.20): well-formed, but not an authority this server answers
            # for; this is what stops a DNS-rebinding page from reading the models.
            self.send_error(HTTPStatus.MISDIRECTED_REQUEST, "unknown Host; start edgekit serve with --allow-host")
            return False
        return True

    def end_headers(self) -> None:
        # Every response, errors and 304s included, carries the security headers.
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, self.policy if self.policy and name == "Content-Security-Policy" else value)
        super().end_headers()

    def do_GET(self) -> None:
        self._send(head=False)

    def do_HEAD(self) -> None:
        self._send(head=True)

    def __getattr__(self, name: str):
        # http.server looks up do_<METHOD> and answers 501 when it is missing; every method but GET and HEAD is
        # known to be refused here, which is 405.
        if name.startswith("do_"):
            return self._refuse
        raise AttributeError(name)

    def _refuse(self) -> None:
        # The request's body is never read, so the connection cannot carry another request after it.
        self.close_connection = self.body_unread = True
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def _entity(self) -> Entity | None:
        path = urlsplit(self.path).path  # the page's own query (?backend=webgl) names no other file
        segments = url_segments(path)
        if segments is None:
            return None
        key = "/" + "/".join(segments)
        self.policy = self.policies.get(key)
        entity = self.generated.get(key)
        try:
            if isinstance(entity, ServedFile):
                return served_entity(entity)
            if entity is None:
                file = resolve(self.mounts, path)
                return file_entity(file) if file is not None else None
        except (OSError, FileChanged):
            return None
        return entity

    def _send(self, head: bool) -> None:
        entity = self._entity()
        if entity is None:
            return self.send_error(HTTPStatus.NOT_FOUND)
        zipped = entity.gzip_body is not None and _accepts_gzip(self.headers.get("Accept-Encoding"))
        etag = entity.etag[:-1] + '-gz"' if zipped else entity.etag
        if _not_modified(entity, self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self._validators(entity, etag)
            self.end_headers()
            return
        body = entity.gzip_body if zipped else entity.body
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", entity.content_type)
        self.send_header("Content-Length", str(len(body)))
        if zipped:
            self.send_header("Content-Encoding", "gzip")
        self._validators(entity, etag)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _validators(self, entity: Entity, etag: str) -> None:
        self.send_header("ETag", etag)
        if entity.last_modified:
            self.send_header("Last-Modified", entity.last_modified)
        if entity.gzip_body is not None:
            self.send_header("Vary", "Accept-Encoding")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # A plain-text one-liner instead of http.server's HTML page; the security headers come from end_headers.
        self.close_connection = self.close_connection or code >= 500 or code in (400, 408, 414, 421, 431)
        status = HTTPStatus(code)
        body = f"{status.value} {message or status.phrase}\n".encode()
        self.send_response(status, message)
        self.send_header("Content-Type", MIME_TYPES[".txt"])
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        if code == HTTPStatus.SERVICE_UNAVAILABLE:
            self.send_header("Retry-After", "1")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        if not self.quiet:
            super().log_message(format, *args)


# Who holds a connection: the loop thread while it waits for (the rest of) a request, the queue once its head is
# complete, then one worker while it is answered; EXPIRED when the loop answered it 503 in the queue; CLOSED after.
WAITING, QUEUED, SERVING, EXPIRED, CLOSED = "waiting", "queued", "serving", "expired", "closed"
_LISTENER, _WAKE = object(), object()


class _Connection:
    """A client connection and the bytes received of its next request (at most MAX_HEADER_BYTES + 1)."""

    __slots__ = ("sock", "address", "buffer", "state")

    def __init__(self, sock: socket.socket, address):
        self.sock, self.address = sock, address
        self.buffer = bytearray()
        self.state = WAITING


def head_end(buffer: bytearray, start: int = 0) -> int | None:
    """Where the first request's head (request line and headers) ends, after its blank line, or None.

    `start` is how much of the buffer was searched before: only the bytes that arrived since (and the 3 before, which
    may begin the blank line) are searched again, so a client trickling bytes costs linear time, not quadratic.
    """
    start = max(0, start - 3)
    ends = [i + len(mark) for mark in (b"\r\n\r\n", b"\n\n") if (i := buffer.find(mark, start)) >= 0]
    return min(ends) if ends else None


class StaticServer:
    """An HTTP server whose loop thread waits for requests and a fixed pool of workers answers them.

    The loop thread accepts connections and reads each request's head without blocking; only a complete head goes
    to a worker, and after the response a kept-alive connection comes back to the loop. So a connection that is idle
    or trickling its headers holds a few bytes and no thread, and the workers are free for requests that are ready.
    The loop also enforces every deadline: idle, headers, queued, response.
    """

    def __init__(self, address, handler_class, workers: int | None = None, max_connections: int | None = None):
        """Bind and listen on `address`; raises OSError when it cannot."""
        self.handler_class = handler_class
        self.workers = workers or MAX_WORKERS
        self.max_connections = max_connections or MAX_CONNECTIONS
        self.socket = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind(address)
            self.socket.listen(LISTEN_BACKLOG)
        except OSError:
            self.socket.close()
            raise
        self.socket.setblocking(False)
        self.server_address = self.socket.getsockname()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()  # (connection, head): bounded by max_connections
        self._returned: collections.deque[_Connection] = collections.deque()  # kept alive, back to the loop
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._connections: set[_Connection] = set()
        self._waiting: dict[_Connection, None] = {}  # registered with the selector, in the order they began waiting
        self._deadlines: dict[_Connection, float] = {}
        self._lock = threading.Lock()  # for the one hand-over the loop and a worker may race for: QUEUED -> ...
        self._scratch = bytearray(MAX_HEADER_BYTES + 1)
        self._stop = self._paused = False
        self._stopped = threading.Event()
        self._stopped.set()
        self._threads = [
            threading.Thread(target=self._work, name=f"edgekit-serve-{n}", daemon=True) for n in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    # The loop thread.

    def serve_forever(self, poll_interval: float = SWEEP_S) -> None:
        """Serve until shutdown() (from another thread) or an exception such as KeyboardInterrupt."""
        self._stopped.clear()
        self._selector.register(self.socket, selectors.EVENT_READ, _LISTENER)
        self._selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        try:
            sweep_at = 0.0
            while not self._stop:
                for key, _ in self._selector.select(min(poll_interval, SWEEP_S)):
                    if key.data is _LISTENER:
                        self._accept()
                    elif key.data is _WAKE:
                        self._take_back()
                    elif key.data.state == WAITING:
                        self._read(key.data)
                if time.monotonic() >= sweep_at:
                    self._sweep(time.monotonic())
                    sweep_at = time.monotonic() + SWEEP_S
        finally:
            for sock in (self.socket, self._wake_r):
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(sock)
            self._stopped.set()

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                sock, address = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno in (errno.EMFILE, errno.ENFILE) and self._evict_idle():
                    continue
                if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # Out of resources and nothing idle to close: stop accepting until the next sweep, which a
                    # listening socket that stays readable would otherwise turn into a busy loop.
                    self._selector.unregister(self.socket)
                    self._paused = True
                return
            if len(self._connections) >= self.max_connections and not self._evict_idle():
                sock.close()
                continue
            sock.setblocking(False)
            # Headers and body leave in two writes; with Nagle's algorithm on, the second waits for the client's
            # delayed ACK (~40 ms) on every keep-alive request, which the page's chain of small JSON fetches pays.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(sock, address)
            self._connections.add(connection)
            self._advance(connection, 0)

    def _evict_idle(self) -> bool:
        """Close the connection that has waited longest between requests (none started), if there is one."""
        for connection in self._waiting:
            if not connection.buffer:
                self._drop(connection)
                return True
        return False

    def _read(self, connection: _Connection) -> None:
        before = len(connection.buffer)
        try:
            count = connection.sock.recv_into(self._scratch, MAX_HEADER_BYTES + 1 - before)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            count = 0
        if not count:
            return self._drop(connection)
        connection.buffer += memoryview(self._scratch)[:count]
        if before == 0:
            self._deadlines[connection] = time.monotonic() + HEADER_TIMEOUT_S
        self._advance(connection, before)

    def _advance(self, connection: _Connection, searched: int) -> None:
        """Queue the connection's request if its head is complete, refuse it if too long, else wait for more."""
        end = head_end(connection.buffer, searched)
        too_long = len(connection.buffer) > MAX_HEADER_BYTES if end is None else end > MAX_HEADER_BYTES
        if too_long:
            line_done = b"\n" in connection.buffer
            return self._answer_and_close(connection, HTTPStatus(431 if line_done else 414))
        if end is None:
            if connection not in self._waiting:
                self._selector.register(connection.sock, selectors.EVENT_READ, connection)
                self._waiting[connection] = None
                connection.state = WAITING
                timeout = HEADER_TIMEOUT_S if connection.buffer else IDLE_TIMEOUT_S
                self._deadlines[connection] = time.monotonic() + timeout
            return
        head = bytes(connection.buffer[:end])
        del connection.buffer[:end]
        self._unregister(connection)
        connection.state = QUEUED
        self._deadlines[connection] = time.monotonic() + QUEUE_TIMEOUT_S
        self._queue.put((connection, head))

    def _take_back(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass
        while self._returned:
            connection = self._returned.popleft()
            self._advance(connection, 0)  # a pipelined request may be complete already

    def _sweep(self, now: float) -> None:
        if self._paused:
            self._paused = False
            self._selector.register(self.socket, selectors.EVENT_READ, _LISTENER)
        for connection, deadline in list(self._deadlines.items()):
            if deadline >= now:
                continue
            if connection.state == WAITING:
                self._drop(connection)
            elif connection.state == QUEUED and self._expire(connection):
                self._answer_and_close(connection, HTTPStatus.SERVICE_UNAVAILABLE)
            elif connection.state == SERVING and self._deadlines.get(connection, now) < now:
                self._deadlines.pop(connection, None)
                with contextlib.suppress(OSError):
                    connection.sock.shutdown(socket.SHUT_RDWR)  # the worker's blocked send fails, it closes

    def _expire(self, connection: _Connection) -> bool:
        with self._lock:
            if connection.state != QUEUED:
                return False
            connection.state = EXPIRED
            return True

    def _answer_and_close(self, connection: _Connection, status: HTTPStatus) -> None:
        """Answer an error without a worker (best effort, the socket does not block) and close: from the loop."""
        handler = self.handler_class(connection.sock, connection.address, self)
        handler.wfile = io.BytesIO()
        handler.send_error(status)
        with contextlib.suppress(OSError):
            connection.sock.send(handler.wfile.getvalue())
        self._drop(connection)

    def _unregister(self, connection: _Connection) -> None:
        if self._waiting.pop(connection, False) is None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(connection.sock)

    def _drop(self, connection: _Connection) -> None:
        self._unregister(connection)
        self._close(connection)

    # Any thread.

    def _close(self, connection: _Connection) -> None:
        connection.state = CLOSED  # an event already selected for it in this turn of the loop is then skipped
        self._deadlines.pop(connection, None)
        self._connections.discard(connection)
        with contextlib.suppress(OSError):
            connection.sock.close()

    # The workers.

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            connection, head = item
            with self._lock:
                if connection.state != QUEUED:
                    continue  # expired in the queue: the loop has answered it
                connection.state = SERVING
            self._deadlines[connection] = time.monotonic() + RESPONSE_TIMEOUT_S
            keep = False
            handler = self.handler_class(connection.sock, connection.address, self)
            try:
                connection.sock.setblocking(True)
                keep = handler.respond(head)
                connection.sock.setblocking(False)
            except DISCONNECTS:
                keep = False
            except Exception:
                keep = False
                self.handle_error(connection)
            if not keep or self._stop:
                if handler.body_unread and not self._stop:
                    _linger(connection.sock)
                self._close(connection)
                continue
            self._deadlines.pop(connection, None)
            self._returned.append(connection)
            with contextlib.suppress(OSError):
                self._wake_w.send(b"\0")

    def handle_error(self, connection: _Connection) -> None:
        print(f"edgekit serve: error while answering {connection.address[0]}:", file=sys.stderr)
        traceback.print_exc()

    def shutdown(self) -> None:
        """Stop serve_forever (running in another thread) and wait until it has returned."""
        self._stop = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        self._stopped.wait()

    def server_close(self) -> None:
        """Close the listening socket and every connection, and let the workers end."""
        self._stop = True
        self.socket.close()
        for _ in self._threads:
            self._queue.put(None)
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)  # a worker's connection: the worker closes it
            if connection.state == WAITING:
                self._close(connection)
        if self._stopped.is_set():  # else serve_forever still runs in another thread and uses these
            self._selector.close()
            self._wake_r.close()
            self._wake_w.close()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def _linger(sock: socket.socket) -> None:
    """End our side (FIN after the response), then drop what the client still sends until it closes or LINGER_S."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(LINGER_S)
        deadline = time.monotonic() + LINGER_S
        while time.monotonic() < deadline and sock.recv(65536):
            pass


def make_static_server(
    mounts: dict[str, Path],
    generated: dict[str, Entity | ServedFile] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    quiet: bool = True,
    allow_hosts: Iterable[str] = (),
    policies: dict[str, str] | None = None,
    workers: int | None = None,
    max_connections: int | None = None,
) -> StaticServer:
    """A server for the given mounts (URL prefix without slashes, "" for the root -> folder), exact paths
    (`generated`: URL path -> entity, or a file served as itself) and per-path Content-Security-Policies.

    Raises:
        OSError: the address cannot be bound.
    """

    class BoundHandler(Handler):
        pass

    BoundHandler.mounts = {prefix: Path(folder).resolve() for prefix, folder in mounts.items()}
    BoundHandler.generated = dict(generated or {})
    BoundHandler.policies = dict(policies or {})
    BoundHandler.quiet = quiet
    server = StaticServer((host.strip("[]"), port), BoundHandler, workers, max_connections)
    BoundHandler.hosts = allowed_hosts(server.server_address[0], allow_hosts)
    return server


@contextlib.contextmanager
def running(server: StaticServer) -> Iterator[str]:
    """Serve in a background thread for the duration of a `with` block; yields the base URL."""
    # shutdown() waits for the loop's next turn: 0.05 s at most at the end of every block (the gate's browser
    # runtime and the tests open one server per evaluation).
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="edgekit-serve", daemon=True
    )
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
