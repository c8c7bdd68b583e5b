"""OTLP/HTTP front end on the stdlib ``ThreadingHTTPServer``.

HTTP/1.1 keep-alive is supported (the OTLP exporters reuse connections), so
every answer carries ``Content-Length`` and every request body is fully read,
even for errors. The server tracks its open connections so that ``stop()`` can
cut idle keep-alive connections and hanging requests instead of waiting on them.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import ssl
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import grpc
from google.protobuf.any_pb2 import Any as AnyProto
from google.rpc import error_details_pb2, status_pb2

from . import codec
from .core import ReceiverCore, Reply
from .signals import SIGNALS, Signal

__all__ = ["HttpFrontEnd"]

_logger = logging.getLogger(__name__)
_BY_PATH: dict[str, Signal] = {signal.http_path: signal for signal in SIGNALS}


def _status_body(reply: Reply, media: str) -> bytes:
    """A ``google.rpc.Status`` error body (with RetryInfo when there is a retry delay)."""
    status = status_pb2.Status(code=reply.grpc_code.value[0], message=reply.message)
    if reply.retry_delay_s is not None:
        retry_info = error_details_pb2.RetryInfo()
        retry_info.retry_delay.FromNanoseconds(round(reply.retry_delay_s * 1e9))
        detail = AnyProto()
        detail.Pack(retry_info)
        status.details.append(detail)
    return codec.encode_message(status, media)


class _Server(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` that knows its connections and does no reverse DNS on bind."""

    daemon_threads = True
    block_on_close = False  # we close connections ourselves; joining keep-alive threads would block

    def __init__(self, address: tuple[str, int], core: ReceiverCore, max_body_bytes: int) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.core = core
        self.max_body_bytes = max_body_bytes
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can stall.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        _logger.debug("HTTP receiver: connection from %s failed", client_address, exc_info=True)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections[connection] = threading.current_thread()

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.pop(connection, None)

    def close_connections(self, timeout: float) -> None:
        """Shut down every open connection and wait (bounded) for their threads."""
        with self._connections_lock:
            connections = dict(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread in connections.values():
            if thread is not threading.current_thread():
                thread.join(max(deadline - time.monotonic(), 0.0))


class _Handler(BaseHTTPRequestHandler):
    """One connection; ``do_POST`` handles each OTLP export request on it."""

    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "otel-telemetry-receiver"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    timeout = 60  # drop connections idle (or stalled mid-body) this long

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        _logger.debug("HTTP receiver: %s - %s", self.address_string(), format % args)

    # -- request handling -----------------------------------------------------------
    def do_POST(self) -> None:
        signal = _BY_PATH.get(urlsplit(self.path).path)
        media = codec.media_type(self.headers.get("Content-Type"))
        protocol = codec.protocol_for(media)
        body = self._read_body()
        if body is None:
            return
        at = self.server.core.now()
        if signal is None:
            self._reject(
                protocol,
                media,
                Reply.error(404, grpc.StatusCode.NOT_FOUND, f"no OTLP endpoint at {self.path}"),
                at,
            )
            return
        try:
            data = codec.decompress(body, self.headers.get("Content-Encoding"), self.server.max_body_bytes)
            request = codec.decode_message(data, media, signal.request_type)
        except codec.BodyError as exc:
            code = (
                grpc.StatusCode.RESOURCE_EXHAUSTED if exc.status == 413 else grpc.StatusCode.INVALID_ARGUMENT
            )
            self._reject(protocol, media, Reply.error(exc.status, code, exc.message), at)
            return
        reply = self.server.core.handle(protocol, signal, request, at, dict(self.headers.items()))
        if reply.abandoned:
            self.close_connection = True
            return
        if reply.ok:
            self._send(
                200, codec.encode_message(signal.response(reply.rejected, reply.message), media), media
            )
        else:
            self._send_error_reply(reply, media)

    def _not_post(self) -> None:
        """Any other method: 405 on an OTLP path, 404 elsewhere."""
        media = codec.media_type(self.headers.get("Content-Type"))
        body = self._read_body()
        if body is None:
            return
        at = self.server.core.now()
        headers: dict[str, str] = {}
        if urlsplit(self.path).path in _BY_PATH:
            reply = Reply.error(405, grpc.StatusCode.UNIMPLEMENTED, f"{self.command} not allowed, use POST")
            headers["Allow"] = "POST"
        else:
            reply = Reply.error(404, grpc.StatusCode.NOT_FOUND, f"no OTLP endpoint at {self.path}")
        self._reject(codec.protocol_for(media), media, reply, at, headers)

    do_GET = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_post

    # -- helpers ----------------------------------------------------------------------
    def _read_body(self) -> bytes | None:
        """Read the whole request body; None (and the connection closed) when that is impossible."""
        limit = self.server.max_body_bytes
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._read_chunked(limit)
            length_header = self.headers.get("Content-Length")
            length = int(length_header) if length_header else 0
            if length < 0:
                raise ValueError(length_header)
        except ValueError:
            self._refuse(400, "invalid Content-Length or chunked body")
            return None
        except OSError:
            self.close_connection = True
            return None
        if length > limit:
            self._refuse(413, f"body exceeds {limit} bytes")
            return None
        try:
            body = self.rfile.read(length)
        except OSError:
            body = b""
        if len(body) != length:
            self.close_connection = True  # client went away mid-body
            return None
        return body

    def _read_chunked(self, limit: int) -> bytes | None:
        parts: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(1024)
            chunk_len = int(line.split(b";", 1)[0].strip() or b"x", 16)  # ValueError if not hex
            if chunk_len < 0:
                raise ValueError(f"negative chunk size {chunk_len}")
            if chunk_len == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            size += chunk_len
            if size > limit:
                self._refuse(413, f"body exceeds {limit} bytes")
                return None
            chunk = self.rfile.read(chunk_len)
            if len(chunk) != chunk_len:
                self.close_connection = True
                return None
            parts.append(chunk)
            self.rfile.readline(1024)  # CRLF after the chunk

    def _refuse(self, status: int, message: str) -> None:
        """Answer without reading the (unusable) body, then close the connection."""
        media = codec.media_type(self.headers.get("Content-Type"))
        code = grpc.StatusCode.RESOURCE_EXHAUSTED if status == 413 else grpc.StatusCode.INVALID_ARGUMENT
        self.close_connection = True
        self._reject(
            codec.protocol_for(media), media, Reply.error(status, code, message), self.server.core.now()
        )

    def _reject(
        self, protocol: str, media: str, reply: Reply, at: float, headers: dict[str, str] | None = None
    ) -> None:
        self.server.core.reject(protocol, reply, at)
        self._send_error_reply(reply, media, headers)

    def _send_error_reply(self, reply: Reply, media: str, headers: dict[str, str] | None = None) -> None:
        headers = dict(headers or {})
        if reply.retry_after is not None:
            headers["Retry-After"] = reply.retry_after
        self._send(reply.http_status, _status_body(reply, media), media, headers)

    def _send(self, status: int, body: bytes, media: str, headers: dict[str, str] | None = None) -> None:
        content_type = codec.JSON if media == codec.JSON else codec.PROTOBUF
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        self.send_response(status, phrase)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


class HttpFrontEnd:
    """Owns the HTTP server and its accept-loop thread."""

    def __init__(
        self,
        core: ReceiverCore,
        host: str,
        port: int,
        *,
        max_body_bytes: int,
        tls: tuple[str, str] | None = None,
    ) -> None:
        self._server = _Server((host, port), core, max_body_bytes)
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="otlp-http", daemon=True
        )

    def start(self) -> int:
        """Start accepting connections; returns the bound port."""
        self._thread.start()
        return self.port

    def stop(self, timeout: float) -> None:
        """Stop accepting, cut open connections, close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.close_connections(timeout)
        self._server.server_close()
