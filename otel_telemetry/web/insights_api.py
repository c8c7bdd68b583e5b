"""``/api/insights/<insight>``: the insights of :mod:`otel_telemetry.insights` as JSON for the page.

- ``/api/insights/trends?events=&interval=&by=&count=&where=&since=&until=``
- ``/api/insights/breakdown?key=&events=&count=&where=&since=&until=``
- ``/api/insights/funnel?steps=&window_s=&per=&where=&since=&until=``
- ``/api/insights/retention?start_event=&return_event=&period=&count=&where=&since=&until=``

``events``, ``steps`` and ``where`` repeat; the answers are the JSON shapes of docs/insights.md.
A question the insights cannot answer (unknown key, bad date, ...) answers 400 with the
insights' own one-line message; so does every parameter :mod:`.params` refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from ..insights import InsightsError, Source, breakdown, funnel, open_source, retention, trends
from .http import Response, error_response, json_response
from .params import BadParameter, Params

#: Longest funnel window: a year.
MAX_WINDOW_S = 366 * 86400.0
_RANGE = ("where", "since", "until")

Ask = Callable[[Source, Params], dict[str, Any]]


def _options(params: Params, *names: str) -> dict[str, Any]:
    """The single-valued parameters given, as keyword arguments (absent ones keep the defaults)."""
    found = {name: params.text(name) for name in (*names, "since", "until")}
    return {name: value for name, value in found.items() if value is not None} | {
        "where": params.texts("where")
    }


def _trends(src: Source, params: Params) -> dict[str, Any]:
    return trends(src, params.texts("events"), **_options(params, "interval", "by", "count"))


def _breakdown(src: Source, params: Params) -> dict[str, Any]:
    key = params.text("key")
    if key is None:
        raise BadParameter("key: required (the property to break down, e.g. database)")
    return breakdown(src, key, events=params.texts("events"), **_options(params, "count"))


def _funnel(src: Source, params: Params) -> dict[str, Any]:
    window_s = params.seconds("window_s", 1, MAX_WINDOW_S)
    options = _options(params, "per") | ({} if window_s is None else {"window_s": window_s})
    return funnel(src, params.texts("steps"), **options)


def _retention(src: Source, params: Params) -> dict[str, Any]:
    return retention(src, **_options(params, "start_event", "return_event", "period", "count"))


#: insight -> (its parameters, how to ask it)
INSIGHTS: dict[str, tuple[tuple[str, ...], Ask]] = {
    "trends": (("events", "interval", "by", "count", *_RANGE), _trends),
    "breakdown": (("key", "events", "count", *_RANGE), _breakdown),
    "funnel": (("steps", "window_s", "per", *_RANGE), _funnel),
    "retention": (("start_event", "return_event", "period", "count", *_RANGE), _retention),
}


def insights_routes(db: str) -> list[tuple[str, Callable[[str], Response]]]:
    """The routes answering each insight from the events in ``db`` (see :func:`open_source`)."""

    def route(allowed: tuple[str, ...], ask: Ask) -> Callable[[str], Response]:
        def answer(query: str) -> Response:
            params = Params(query, allowed)
            try:
                with open_source(db) as src:
                    return json_response(ask(src, params))
            except InsightsError as error:
                return error_response(HTTPStatus.BAD_REQUEST, str(error))

        return answer

    return [(f"/api/insights/{name}", route(allowed, ask)) for name, (allowed, ask) in INSIGHTS.items()]
