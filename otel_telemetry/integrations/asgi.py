"""ASGI middleware sending ``didReceiveRequest`` ``{url, success, statusCode}`` per HTTP request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .request_events import RequestEvents

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class TelemetryASGIMiddleware:
    """``app = TelemetryASGIMiddleware(app)``; arguments as :class:`RequestEvents`.

    Only ``http`` scopes are reported (not websockets or lifespan). The status is taken from
    ``http.response.start``; an app that raises before starting a response is reported as 500.
    """

    def __init__(self, app: ASGIApp, **options: Any) -> None:
        self.app = app
        self.events = RequestEvents(**options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
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
