"""``WebViewer``: the events page and its JSON API over the SQLite store.

Routes (all ``GET``/``HEAD``):

- ``/`` — the page (``static/index.html``), which polls the API below; ``/static/<file>`` its scripts.
- ``/api/events?name=&where=key=value&since_ns=&until_ns=&after_id=&limit=`` — newest first.
- ``/api/events/<id>`` — one event: its Strapi payload and its OTel record.
- ``/api/names?where=`` — counts per event name.
- ``/api/counts?bucket_s=&since_ns=&name=&where=`` — counts per event name per time bucket.
- ``/api/insights/trends|breakdown|funnel|retention?...`` — the insights (:mod:`.insights_api`).

Every bad parameter answers 400 ``{"error": ...}`` naming the parameter and the rule (see
:mod:`.params`); a ``Host`` that is not this machine answers 403 (see :mod:`.hosts`). Only local
use is intended: it binds 127.0.0.1 by default and has no authentication.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from importlib import resources

from ..errors import TelemetryError
from ..store import EventQuery, EventStore, parse_property_filter
from .hosts import HostAllowlist
from .http import AsyncHTTPServer, Request, Response, error_response, json_response
from .insights_api import insights_routes
from .params import BadParameter, Params, decode_path, parse_id

MAX_LIMIT = 1000
#: Longest bucket of /api/counts: a year.
MAX_BUCKET_S = 366 * 86400.0

_FILTERS = ("name", "where", "since_ns", "until_ns")
#: Files under ``static/`` served at ``/static/<name>`` (nothing else is).
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
#: The page loads scripts from this server only.
PAGE_POLICY = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"
)


def query_from_params(params: Params, default_limit: int = 100) -> EventQuery:
    """An :class:`EventQuery` from URL query parameters (see the module docstring)."""
    try:
        properties = tuple(parse_property_filter(text) for text in params.texts("where"))
    except TelemetryError as error:
        raise BadParameter(f"where: {error}") from None
    limit = params.integer("limit", 1, MAX_LIMIT)
    return EventQuery(
        names=params.texts("name"),
        properties=properties,
        since_ns=params.integer("since_ns"),
        until_ns=params.integer("until_ns"),
        after_id=params.integer("after_id"),
        limit=default_limit if limit is None else limit,
    )


Route = Callable[[str], Response]


class ViewerApp:
    """Answers one request: the Host check, then the route (runs in the server's worker threads)."""

    def __init__(self, store: EventStore, hosts: HostAllowlist) -> None:
        self.store = store
        self.hosts = hosts
        self.static = _static_files()
        self.routes: dict[str, Route] = {
            "/api/events": self._events,
            "/api/names": self._names,
            "/api/counts": self._counts,
        }

    def add_routes(self, routes: Iterable[tuple[str, Route]]) -> None:
        self.routes.update(routes)

    def __call__(self, request: Request) -> Response:
        if not self.hosts.allows(request.headers.get("host")):
            return error_response(
                HTTPStatus.FORBIDDEN,
                "Host: this viewer answers only local names (localhost, 127.0.0.1, [::1]); "
                "start serve with --web-allow-host NAME to allow another",
            )
        raw_path, _, query = request.target.partition("?")
        try:
            if not raw_path.startswith("/"):
                raise BadParameter("path: expected an absolute path like /api/events")
            path = decode_path(raw_path)
            return self._route(path, query)
        except BadParameter as error:
            return error_response(HTTPStatus.BAD_REQUEST, str(error))

    def _route(self, path: str, query: str) -> Response:
        route = self.routes.get(path)
        if route is not None:
            return route(query)
        if path in ("/", "/index.html"):
            response = Response(HTTPStatus.OK, self.static["index.html"], "text/html; charset=utf-8")
            response.headers["Content-Security-Policy"] = PAGE_POLICY
            return response
        if path.startswith("/static/") and path[len("/static/") :] in self.static:
            name = path[len("/static/") :]
            return Response(HTTPStatus.OK, self.static[name], STATIC_TYPES[name[name.rfind(".") :]])
        if path.startswith("/api/events/"):
            Params(query, ())
            raw_id = path[len("/api/events/") :]
            event = self.store.get(parse_id("event id", raw_id))
            if event is None:
                return error_response(HTTPStatus.NOT_FOUND, f"no event with id {raw_id}")
            return json_response(event.to_json())
        return error_response(HTTPStatus.NOT_FOUND, f"no such page: {path}")

    def _events(self, query: str) -> Response:
        params = Params(query, (*_FILTERS, "after_id", "limit"))
        events = self.store.events(query_from_params(params))
        return json_response(
            {"events": [event.to_json() for event in events], "newest_id": self.store.newest_id()}
        )

    def _names(self, query: str) -> Response:
        params = Params(query, _FILTERS)
        counts = self.store.counts_by_name(query_from_params(params))
        return json_response({"names": [{"name": n, "count": c} for n, c, _, _ in counts]})

    def _counts(self, query: str) -> Response:
        params = Params(query, (*_FILTERS, "bucket_s"))
        bucket_s = params.seconds("bucket_s", 1, MAX_BUCKET_S) or 60.0
        series = self.store.counts_over_time(bucket_s, query_from_params(params))
        return json_response(
            {"bucket_s": bucket_s, "series": [{"bucket_ns": b, "name": n, "count": c} for b, n, c in series]}
        )


def _static_files() -> dict[str, bytes]:
    folder = resources.files(__package__).joinpath("static")
    return {
        entry.name: entry.read_bytes()
        for entry in folder.iterdir()
        if entry.name == "index.html" or entry.name[entry.name.rfind(".") :] in STATIC_TYPES
    }


class WebViewer:
    """Serves the events page for ``store`` on ``host:port`` (0 picks a free port).

    ``allow_hosts`` adds ``Host`` names to the local ones (``"*"`` allows any); see :mod:`.hosts`.
    The insights (:mod:`.insights_api`) read ``insights_db`` (any ``--db`` of ``otel-telemetry
    insights``), by default the store's own file.
    """

    def __init__(
        self,
        store: EventStore,
        host: str = "127.0.0.1",
        port: int = 8321,
        allow_hosts: Iterable[str] = (),
        insights_db: str | None = None,
    ) -> None:
        self.app = ViewerApp(store, HostAllowlist(host, allow_hosts))
        self.app.add_routes(insights_routes(insights_db or str(store.path)))
        self._server = AsyncHTTPServer(host, port, self.app)

    @property
    def port(self) -> int:
        return self._server.address[1]

    @property
    def url(self) -> str:
        host = self._server.address[0]
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/"

    def start(self) -> WebViewer:
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.stop()

    def __enter__(self) -> WebViewer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
