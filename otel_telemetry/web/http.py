"""A small HTTP/1.1 server on asyncio: one event-loop thread for every connection.

Why not ``ThreadingHTTPServer``: it holds a thread per connection, so a few hundred idle or
stalled sockets (a browser's keep-alive pool, a slow-loris client) cost a few hundred threads.
Here an idle connection costs a coroutine and a socket; the blocking work of a request (SQLite
queries) runs in a small bounded thread pool. Only what the viewer needs is spoken: ``GET`` and
``HEAD``, keep-alive, no request bodies, bounded request heads and idle timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

logger = logging.getLogger("otel_telemetry")

#: Longest request line plus headers accepted (a thousand filters fit; more is refused).
MAX_HEAD_BYTES = 64 * 1024
MAX_HEADERS = 100
#: A connection that sends no complete request for this long is closed.
IDLE_TIMEOUT_S = 30.0
#: Threads that run request handlers (SQLite queries); connections do not hold one.
WORKERS = 4

_REQUEST_LINE = re.compile(r"([A-Z]{1,20}) (\S{1,65536}) HTTP/(1\.[01])")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


@dataclass(frozen=True)
class Request:
    """A parsed request head: the target is raw (still percent-encoded)."""

    method: str
    target: str
    version: str
    headers: dict[str, str]


@dataclass
class Response:
    """What a handler answers; ``headers`` adds to Content-Type/Length and Cache-Control."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Response]


class HttpError(Exception):
    """A request that cannot be parsed or served; answered with ``status`` and the connection closed."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_head(head: bytes) -> Request:
    """The request line and headers (``head`` ends with the blank line)."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise HttpError(HTTPStatus.BAD_REQUEST, "request head: not ASCII (percent-encode the URL)") from None
    lines = text.split("\r\n")
    match = _REQUEST_LINE.fullmatch(lines[0])
    if match is None:
        raise HttpError(HTTPStatus.BAD_REQUEST, "request line: expected 'METHOD /path HTTP/1.1'")
    headers: dict[str, str] = {}
    header_lines = [line for line in lines[1:] if line]
    if len(header_lines) > MAX_HEADERS:
        raise HttpError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, f"more than {MAX_HEADERS} headers")
    for line in header_lines:
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.fullmatch(name):
            raise HttpError(HTTPStatus.BAD_REQUEST, "header: expected 'Name: value'")
        key = name.lower()
        if key == "host" and key in headers:
            raise HttpError(HTTPStatus.BAD_REQUEST, "header: more than one Host")
        headers[key] = value.strip(" \t")
    return Request(match[1], match[2], match[3], headers)


def _keep_alive(request: Request) -> bool:
    connection = request.headers.get("connection", "").lower()
    if request.version == "1.0":
        return "keep-alive" in connection
    return "close" not in connection


def _encode(response: Response, head_only: bool, keep_alive: bool) -> bytes:
    reason = HTTPStatus(response.status).phrase
    headers = {
        "Content-Type": response.content_type,
        "Content-Length": str(len(response.body)),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        **response.headers,
        "Connection": "keep-alive" if keep_alive else "close",
    }
    lines = [f"HTTP/1.1 {response.status} {reason}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode("latin-1") + (b"" if head_only else response.body)


def json_response(data: Any, status: int = HTTPStatus.OK) -> Response:
    """A JSON answer (UTF-8, non-ASCII kept as is)."""
    return Response(status, json.dumps(data, ensure_ascii=False).encode(), "application/json; charset=utf-8")


def error_response(status: int, message: str) -> Response:
    """An error answer: ``{"error": message}``."""
    return json_response({"error": message}, status)


class AsyncHTTPServer:
    """Serves ``handler`` on ``host:port`` from a background event-loop thread.

    The socket is bound in the constructor, so a busy port fails there. ``handler`` runs in a
    pool of :data:`WORKERS` threads; if it raises, the client gets 500 ``{"error": ...}``
    without details (they go to the log).
    """

    def __init__(
        self, host: str, port: int, handler: Handler, *, idle_timeout_s: float = IDLE_TIMEOUT_S
    ) -> None:
        self._handler = handler
        self._idle_timeout_s = idle_timeout_s
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.create_server((host, port), family=family, backlog=1024)
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="otel-telemetry-web")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="otel-telemetry-web-loop", daemon=True)
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._socket.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        server = await asyncio.start_server(self._on_connection, sock=self._socket, limit=MAX_HEAD_BYTES)
        self._ready.set()
        async with server:
            await self._stopped.wait()
            server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)

    def stop(self) -> None:
        """Stop accepting, close every connection, and release the port; safe to call twice."""
        if self._thread.is_alive() and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(10)
        elif not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()
        self._socket.close()
        self._pool.shutdown(wait=True, cancel_futures=True)

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._converse(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError, asyncio.TimeoutError):
            pass  # the client went away or stalled: nothing to answer
        except asyncio.CancelledError:
            pass  # stop(): end quietly (asyncio 3.11 logs a connection task that ends cancelled)
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self._idle_timeout_s)
            except asyncio.LimitOverrunError:
                await self._close_with(
                    writer,
                    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                    f"request head: longer than {MAX_HEAD_BYTES} bytes",
                )
                return
            except asyncio.IncompleteReadError:
                return
            try:
                request = parse_head(head)
                await self._skip_body(reader, request)
            except HttpError as error:
                await self._close_with(writer, error.status, str(error))
                return
            keep_alive = _keep_alive(request)
            if request.method not in ("GET", "HEAD"):
                response = error_response(
                    HTTPStatus.METHOD_NOT_ALLOWED, f"method {request.method}: only GET and HEAD"
                )
                response.headers["Allow"] = "GET, HEAD"
            else:
                response = await asyncio.get_running_loop().run_in_executor(self._pool, self._answer, request)
            writer.write(_encode(response, request.method == "HEAD", keep_alive))
            await asyncio.wait_for(writer.drain(), self._idle_timeout_s)
            if not keep_alive:
                return

    async def _skip_body(self, reader: asyncio.StreamReader, request: Request) -> None:
        if "transfer-encoding" in request.headers:
            raise HttpError(HTTPStatus.BAD_REQUEST, "request body: not accepted (Transfer-Encoding)")
        length = request.headers.get("content-length", "0")
        if not re.fullmatch(r"[0-9]{1,10}", length):
            raise HttpError(HTTPStatus.BAD_REQUEST, "Content-Length: expected a number")
        if int(length) > MAX_HEAD_BYTES:
            raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body: too large")
        if int(length):
            await asyncio.wait_for(reader.readexactly(int(length)), self._idle_timeout_s)

    def _answer(self, request: Request) -> Response:
        try:
            return self._handler(request)
        except Exception:
            logger.exception("web: error answering %s %s", request.method, request.target)
            return error_response(
                HTTPStatus.INTERNAL_SERVER_ERROR, "internal error; the server's log has the details"
            )

    async def _close_with(self, writer: asyncio.StreamWriter, status: HTTPStatus, message: str) -> None:
        writer.write(_encode(error_response(status, message), False, False))
        await asyncio.wait_for(writer.drain(), self._idle_timeout_s)
