"""``WebViewer``: the events page and its JSON API on the stdlib ``ThreadingHTTPServer``.

Routes (all ``GET``):

- ``/`` — the page (``static/index.html``), which polls the API below.
- ``/api/events?name=&where=key=value&since_ns=&until_ns=&after_id=&limit=`` — newest first.
- ``/api/events/<id>`` — one event: its Strapi payload and its OTel record.
- ``/api/names?where=`` — counts per event name.
- ``/api/counts?bucket_s=&since_ns=&name=&where=`` — counts per event name per time bucket.

Bad parameters answer 400 with ``{"error": ...}`` naming the parameter. Only local use is
intended: it binds 127.0.0.1 by default and has no authentication.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .._log import logger
from ..errors import TelemetryError
from ..store import EventQuery, EventStore, parse_property_filter

MAX_LIMIT = 1000


class BadParameter(Exception):
    """A query parameter that cannot be used; answered 400."""


def _int(params: dict[str, list[str]], name: str, default: int | None = None) -> int | None:
    values = params.get(name)
    if not values or values[-1] == "":
        return default
    try:
        return int(values[-1])
    except ValueError:
        raise BadParameter(f"{name}: expected an integer, got {values[-1]!r}") from None


def query_from_params(params: dict[str, list[str]], default_limit: int = 100) -> EventQuery:
    """An :class:`EventQuery` from URL query parameters (see the module docstring)."""
    try:
        properties = tuple(parse_property_filter(text) for text in params.get("where", ()) if text)
    except TelemetryError as error:
        raise BadParameter(str(error)) from None
    limit = _int(params, "limit", default_limit)
    if limit is None or not 0 < limit <= MAX_LIMIT:
        raise BadParameter(f"limit: must be between 1 and {MAX_LIMIT}")
    return EventQuery(
        names=tuple(name for name in params.get("name", ()) if name),
        properties=properties,
        since_ns=_int(params, "since_ns"),
        until_ns=_int(params, "until_ns"),
        after_id=_int(params, "after_id"),
        limit=limit,
    )


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("web: " + format, *args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode(), "application/json; charset=utf-8")

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = parse_qs(url.query, keep_blank_values=True)
        try:
            self._route(url.path, params)
        except BadParameter as error:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(error)})
        except Exception as error:  # the page must get an answer, not a dropped connection
            logger.exception("web: error answering %s", self.path)
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": repr(error)})

    def _route(self, path: str, params: dict[str, list[str]]) -> None:
        store = self.server.store
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, self.server.page, "text/html; charset=utf-8")
        elif path == "/api/events":
            query = query_from_params(params)
            events = store.events(query)
            self._json(
                HTTPStatus.OK,
                {"events": [event.to_json() for event in events], "newest_id": store.newest_id()},
            )
        elif path.startswith("/api/events/"):
            raw_id = path.rsplit("/", 1)[1]
            if not raw_id.isdigit():
                raise BadParameter(f"event id: expected an integer, got {raw_id!r}")
            event = store.get(int(raw_id))
            if event is None:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no event with id {raw_id}"})
            else:
                self._json(HTTPStatus.OK, event.to_json())
        elif path == "/api/names":
            query = query_from_params(params)
            self._json(
                HTTPStatus.OK,
                {"names": [{"name": n, "count": c} for n, c, _, _ in store.counts_by_name(query)]},
            )
        elif path == "/api/counts":
            query = query_from_params(params)
            raw = params.get("bucket_s", ["60"])[-1] or "60"
            try:
                bucket_s = float(raw)
            except ValueError:
                raise BadParameter(f"bucket_s: expected seconds, got {raw!r}") from None
            if not bucket_s >= 1:
                raise BadParameter("bucket_s: must be at least 1")
            series = store.counts_over_time(bucket_s, query)
            self._json(
                HTTPStatus.OK,
                {
                    "bucket_s": bucket_s,
                    "series": [{"bucket_ns": b, "name": n, "count": c} for b, n, c in series],
                },
            )
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {path}"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: EventStore, page: bytes) -> None:
        self.store = store
        self.page = page
        super().__init__(address, _Handler)


def _page() -> bytes:
    return resources.files(__package__).joinpath("static/index.html").read_bytes()


class WebViewer:
    """Serves the events page for ``store`` on ``host:port`` (0 picks a free port)."""

    def __init__(self, store: EventStore, host: str = "127.0.0.1", port: int = 8321) -> None:
        self._server = _Server((host, port), store, _page())
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="otel-telemetry-web", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = str(self._server.server_address[0])
        return f"http://{host}:{self.port}/"

    def start(self) -> WebViewer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()

    def __enter__(self) -> WebViewer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
