"""ASGI middleware: ``didReceiveRequest`` ``{url, success, statusCode}`` per HTTP request, and
delivery of what is queued at the server's ``lifespan`` shutdown.

The shutdown matters: uvicorn, after its graceful shutdown on SIGTERM, restores the default
handler and raises SIGTERM again, so the process dies without ``atexit``. The ``lifespan``
shutdown is the last moment the app is told; the middleware flushes there (bounded by the exit
timeout, off the event loop) before answering the server. An app without ``lifespan`` support
of its own gets it from the middleware.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..processes import flush_all
from .request_events import RequestEvents

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("otel_telemetry")


class TelemetryASGIMiddleware:
    """``app = TelemetryASGIMiddleware(app)``; arguments as :class:`RequestEvents`.

    Only ``http`` scopes are reported (not websockets or lifespan). The status is taken from
    ``http.response.start``; an app that raises before starting a response is reported as 500.
    On ``lifespan.shutdown`` every sender is flushed before the server hears the answer.
    """

    def __init__(self, app: ASGIApp, **options: Any) -> None:
        self.app = app
        self.events = RequestEvents(**options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if kind != "http":
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", "GET"))
        path = str(scope.get("root_path", "")) + str(scope.get("path", "")) or "/"
        if not self.events.wanted(method, path):
            await self.app(scope, receive, send)
            return
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message.get("type") == "http.response.start":
                status = int(message.get("status", 500))
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.events.record(method, path, status)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app's lifespan, with a flush before the shutdown answer; ours if it has none."""
        taken: str | None = None  # a message the app received and has not answered yet
        answered = False

        async def watched_receive() -> Message:
            nonlocal taken
            message = await receive()
            taken = str(message.get("type"))
            return message

        async def watched_send(message: Message) -> None:
            nonlocal taken, answered
            answered, taken = True, None
            if str(message.get("type", "")).startswith("lifespan.shutdown."):
                await deliver()
            await send(message)

        try:
            await self.app(scope, watched_receive, watched_send)
        except Exception:
            if answered:
                raise
            logger.debug("otel-telemetry: the app does not support lifespan; the middleware answers")
        if not answered:
            await _serve_lifespan(receive, send, taken)


async def deliver() -> None:
    """Flush every sender off the event loop (other tasks keep running meanwhile)."""
    await asyncio.get_running_loop().run_in_executor(None, flush_all)


async def _serve_lifespan(receive: Receive, send: Send, taken: str | None) -> None:
    """Answer the lifespan protocol for an app that does not: start at once, flush at shutdown."""
    while True:
        kind = taken or str((await receive()).get("type"))
        taken = None
        if kind == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif kind == "lifespan.shutdown":
            await deliver()
            await send({"type": "lifespan.shutdown.complete"})
            return
