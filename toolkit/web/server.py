"""A read-only static-file HTTP server fit for a LAN: conditional GET, gzip, Host check, timeouts, bounded workers."""

from __future__ import annotations

import contextlib
import email.utils
import functools
import gzip
import hashlib
import ipaddress
import os
import queue
import socket
import socketserver
import sys
import threading
import time
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

# Enforced by one watchdog thread, not by socket timeouts: a socket with a timeout costs a poll() before every
# recv and send (more server CPU per keep-alive request, docs/serve.md), and a per-call timeout cannot bound a
# client that trickles one byte at a time anyway.
IDLE_TIMEOUT_S = 5.0  # a kept-alive connection with no new request is closed after this (Apache's default)
HEADER_TIMEOUT_S = 10.0  # from the first byte of a request to the end of its headers, however slowly they trickle
RESPONSE_TIMEOUT_S = 60.0  # to send one response: 1.1 MB needs ~9 s at 1 Mbit/s; a client that stops reading is cut
MAX_WORKERS = 64  # connections served at once; more wait, accepted, in a bounded queue
MAX_PENDING = 1024  # accepted connections waiting for a worker; beyond this new ones are closed at once
LISTEN_BACKLOG = 1024  # the kernel caps it at net.core.somaxconn
ANY_IP = "*ip"  # in an allow-list: every IP literal (not a valid host name, so it cannot clash with one)
# A client that goes away mid-response is normal on a network, not an error worth a traceback.
DISCONNECTS = (ConnectionError, TimeoutError)


def resolve(mounts: dict[str, Path], raw_path: str) -> Path | None:
    """The regular file a URL path names inside one mount, or None; never anything outside the mounts.

    `mounts` maps a URL path prefix without slashes ("" for the root) to a resolved real folder.
    """
    try:
        path = unquote(raw_path, errors="strict")
    except UnicodeDecodeError:
        return None
    # Decoded before checking, so %2e%2e and %2f are refused exactly like a literal `..` and `/`.
    if not path.startswith("/") or "\\" in path or "\0" in path:
        return None
    segments = path[1:].split("/")
    if any(s in (".", "..") for s in segments) or "" in segments[:-1]:
        return None
    if segments[-1] == "":
        segments[-1] = "index.html"
    # The longest mount that prefixes the path: `models/<name>` before the site root "".
    cut = next((c for c in range(len(segments) - 1, -1, -1) if "/".join(segments[:c]) in mounts), None)
    if cut is None:
        return None
    root = mounts["/".join(segments[:cut])]
    candidate = Path(os.path.realpath(root.joinpath(*segments[cut:])))
    # realpath follows symlinks: a link pointing out of its mount resolves outside the root and is refused.
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


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
    body = Path(path).read_bytes()
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


class Handler(BaseHTTPRequestHandler):
    """GET and HEAD of files under fixed mounts and of generated entities; every other method gets 405."""

    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle's algorithm on, the second waits for the client's delayed
    # ACK (~40 ms) on every keep-alive request, which the page's chain of small JSON fetches would pay each time.
    disable_nagle_algorithm = True
    timeout = None  # sockets stay blocking: see IDLE_TIMEOUT_S
    policy: str | None = None  # this response's own Content-Security-Policy, if its path has one
    mounts: dict[str, Path] = {}
    generated: dict[str, Entity | Path] = {}  # exact path -> entity built at start, or one file served as itself
    policies: dict[str, str] = {}  # exact path -> its own Content-Security-Policy
    hosts: frozenset[str] = frozenset()
    quiet = True

    def version_string(self) -> str:
        return "edgekit"

    def handle_one_request(self) -> None:
        # Three deadlines in turn, each enforced by the server's watchdog closing the socket: the next request must
        # start within IDLE_TIMEOUT_S, its headers be complete HEADER_TIMEOUT_S after its first byte, and the
        # response be sent within RESPONSE_TIMEOUT_S.
        self.policy = None
        server = self.server
        server.set_deadline(self.connection, IDLE_TIMEOUT_S)
        try:
            if not self.rfile.peek(1):
                self.close_connection = True
                return
        except OSError:
            self.close_connection = True
            return
        server.set_deadline(self.connection, HEADER_TIMEOUT_S)
        try:
            super().handle_one_request()
        finally:
            server.clear_deadline(self.connection)

    def parse_request(self) -> bool:
        ok = super().parse_request()
        self.server.set_deadline(self.connection, RESPONSE_TIMEOUT_S)  # the headers are in
        if not ok:
            return False
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
        self.close_connection = True
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def _send(self, head: bool) -> None:
        path = urlsplit(self.path).path
        self.policy = self.policies.get(path)
        entity = self.generated.get(path)
        if not isinstance(entity, Entity):
            file = entity if entity is not None else resolve(self.mounts, path)
            try:
                entity = file_entity(file) if file is not None else None
            except OSError:
                entity = None
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
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        if not self.quiet:
            super().log_message(format, *args)


class StaticServer(socketserver.TCPServer):
    """A TCP server whose connections are served by a fixed pool of worker threads, with a header-deadline watchdog.

    Threads do not grow with connections: at most MAX_WORKERS connections are served at once, up to MAX_PENDING
    more wait accepted in a queue, and beyond that a new connection is closed at once.
    """

    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG
    workers = MAX_WORKERS

    def __init__(self, address, handler_class, workers: int | None = None):
        self.workers = workers or self.workers
        self._pending: queue.Queue = queue.Queue(MAX_PENDING)
        self._deadlines: dict[socket.socket, float] = {}
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        super().__init__(address, handler_class)

    def server_activate(self) -> None:
        super().server_activate()
        for number in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"edgekit-serve-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)
        watchdog = threading.Thread(target=self._watch, name="edgekit-serve-watchdog", daemon=True)
        watchdog.start()
        self._threads.append(watchdog)

    def process_request(self, request, client_address) -> None:
        try:
            self._pending.put_nowait((request, client_address))
        except queue.Full:
            self.shutdown_request(request)

    def _work(self) -> None:
        while True:
            item = self._pending.get()
            if item is None:
                return
            request, client_address = item
            try:
                self.finish_request(request, client_address)
            except DISCONNECTS:
                pass
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.clear_deadline(request)
                self.shutdown_request(request)

    def set_deadline(self, connection: socket.socket, seconds: float) -> None:
        self._deadlines[connection] = time.monotonic() + seconds  # one dict store: atomic under the GIL

    def clear_deadline(self, connection: socket.socket) -> None:
        self._deadlines.pop(connection, None)

    def _watch(self) -> None:
        while not self._stopping.wait(0.25):
            now = time.monotonic()
            late = [c for c, deadline in list(self._deadlines.items()) if deadline < now]
            for connection in late:
                self._deadlines.pop(connection, None)
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)  # the blocked read returns, the worker closes it

    def server_close(self) -> None:
        super().server_close()
        self._stopping.set()
        for _ in range(self.workers):
            with contextlib.suppress(queue.Full):
                self._pending.put_nowait(None)

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], DISCONNECTS):
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


class StaticServer6(StaticServer):
    address_family = socket.AF_INET6


def make_static_server(
    mounts: dict[str, Path],
    generated: dict[str, Entity | Path] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    quiet: bool = True,
    allow_hosts: Iterable[str] = (),
    policies: dict[str, str] | None = None,
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
    server_class = StaticServer6 if ":" in host else StaticServer
    server = server_class((host.strip("[]"), port), BoundHandler)
    BoundHandler.hosts = allowed_hosts(server.server_address[0], allow_hosts)
    return server


@contextlib.contextmanager
def running(server: StaticServer) -> Iterator[str]:
    """Serve in a background thread for the duration of a `with` block; yields the base URL."""
    # shutdown() waits for the accept loop's next poll: 0.05 s instead of the default 0.5 s at the end of every block
    # (the gate's browser runtime and the tests open one server per evaluation).
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
