"""WSGI middleware sending ``didReceiveRequest`` ``{url, success, statusCode}`` per request."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .request_events import RequestEvents

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class _Body:
    """Wraps the response iterable so the event is sent when the server closes it."""

    def __init__(self, body: Iterable[bytes], done: Callable[[], None]) -> None:
        self._body = body
        self._done = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._done()


class TelemetryWSGIMiddleware:
    """``app = TelemetryWSGIMiddleware(app)``; arguments as :class:`RequestEvents`.

    The status reported is the one the app passed to ``start_response``; an exception from the
    app is reported as 500 and re-raised.
    """

    def __init__(self, app: WSGIApplication, **options: Any) -> None:
        self.app = app
        self.events = RequestEvents(**options)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET"))
        path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", "")) or "/"
        if not self.events.wanted(method, path):
            return self.app(environ, start_response)
        status = [500]

        def recording_start_response(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            try:
                status[0] = int(status_line.split(" ", 1)[0])
            except ValueError:
                status[0] = 500
            return start_response(status_line, headers, exc_info)

        try:
            body = self.app(environ, recording_start_response)
        except BaseException:
            self.events.record(method, path, 500)
            raise

        def done() -> None:
            self.events.record(method, path, status[0])

        return _Body(body, done)
