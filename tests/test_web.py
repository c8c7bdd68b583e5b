"""The events web page and its JSON API, over a real receiver, a real SQLite file and a real browser.

Events are sent with otel_telemetry through OTLP into the receiver that `serve` runs; the page
is loaded in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import otel_telemetry
from otel_telemetry import OTLPExporter, Telemetry
from otel_telemetry.cli.local import LocalBackend

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[LocalBackend]:
    """What `serve` runs: receiver + SQLite store + web page, all on free ports; stopped after."""
    with LocalBackend("127.0.0.1", 0, 0, db_path=tmp_path / "events.db", web_port=0) as backend:
        yield backend


def send_events(backend: LocalBackend, events: list[tuple[str, dict[str, Any]]]) -> None:
    telemetry = Telemetry(
        exporter=OTLPExporter(endpoint=backend.receiver.http_endpoint, protocol="http/protobuf"),
        service_name="web-test",
        delivery=otel_telemetry.DeliverySettings(schedule_delay_s=0.02, exit_timeout_s=0.0),
    )
    try:
        for name, payload in events:
            assert telemetry.send(name, payload)
        assert telemetry.flush(10)
    finally:
        telemetry.shutdown(1)


def url(backend: LocalBackend, path: str) -> str:
    assert backend.web is not None
    return backend.web.url.rstrip("/") + path


SAMPLE = [
    ("didCreateEntry", {"eventProperties": {"model": "article"}, "userProperties": {"plan": "pro"}}),
    ("didCreateEntry", {"eventProperties": {"model": "category"}}),
    ("didSelectFile", {"eventProperties": {"mimeType": "image/png"}, "groupProperties": {"team": "blue"}}),
]


# -- JSON API ---------------------------------------------------------------------------------


def test_api_lists_filters_and_details_events(served: LocalBackend) -> None:
    send_events(served, SAMPLE)
    listed = requests.get(url(served, "/api/events"), timeout=5).json()
    assert [e["event"] for e in listed["events"]] == ["didSelectFile", "didCreateEntry", "didCreateEntry"]
    assert listed["newest_id"] == max(e["id"] for e in listed["events"])
    by_name = requests.get(url(served, "/api/events"), params={"name": "didCreateEntry"}, timeout=5).json()
    assert {e["payload"]["eventProperties"]["model"] for e in by_name["events"]} == {"article", "category"}
    by_prop = requests.get(url(served, "/api/events"), params={"where": "user.plan=pro"}, timeout=5).json()
    assert [e["payload"]["eventProperties"] for e in by_prop["events"]] == [{"model": "article"}]
    by_group = requests.get(url(served, "/api/events"), params={"where": "team=blue"}, timeout=5).json()
    assert [e["event"] for e in by_group["events"]] == ["didSelectFile"]
    newest = listed["events"][0]
    detail = requests.get(url(served, f"/api/events/{newest['id']}"), timeout=5).json()
    assert detail["payload"]["event"] == "didSelectFile"
    assert detail["payload"]["groupProperties"]["team"] == "blue"
    assert detail["record"]["eventName"] == "didSelectFile"
    assert detail["record"]["resource"]["attributes"]["service.name"] == "web-test"
    names = requests.get(url(served, "/api/names"), timeout=5).json()["names"]
    assert names == [{"name": "didCreateEntry", "count": 2}, {"name": "didSelectFile", "count": 1}]
    counts = requests.get(url(served, "/api/counts"), params={"bucket_s": "3600"}, timeout=5).json()
    assert sum(point["count"] for point in counts["series"]) == 3


def test_api_polling_cursor_returns_only_newer_events(served: LocalBackend) -> None:
    send_events(served, SAMPLE[:1])
    first = requests.get(url(served, "/api/events"), timeout=5).json()["newest_id"]
    send_events(served, SAMPLE[1:])
    newer = requests.get(url(served, "/api/events"), params={"after_id": first}, timeout=5).json()["events"]
    assert sorted(e["event"] for e in newer) == ["didCreateEntry", "didSelectFile"]


@pytest.mark.parametrize(
    ("path", "params", "status", "mentions"),
    [
        ("/api/events", {"limit": "lots"}, 400, "limit"),
        ("/api/events", {"limit": "0"}, 400, "limit"),
        ("/api/events", {"since_ns": "yesterday"}, 400, "since_ns"),
        ("/api/events", {"where": "=x"}, 400, "filter"),
        ("/api/counts", {"bucket_s": "0"}, 400, "bucket_s"),
        ("/api/events/abc", {}, 400, "event id"),
        ("/api/events/999999", {}, 404, "999999"),
        ("/nope", {}, 404, "/nope"),
    ],
)
def test_api_answers_bad_requests_with_an_error_naming_the_parameter(
    served: LocalBackend, path: str, params: dict[str, str], status: int, mentions: str
) -> None:
    response = requests.get(url(served, path), params=params, timeout=5)
    assert response.status_code == status
    assert mentions in response.json()["error"]
    assert requests.get(url(served, "/api/events"), timeout=5).status_code == 200


def test_page_is_served(served: LocalBackend) -> None:
    response = requests.get(url(served, "/"), timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "otel-telemetry events" in response.text


# -- in a real browser --------------------------------------------------------------------------


@pytest.fixture
def page() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium); the browser test needs it")
    from playwright.sync_api import sync_playwright  # a declared test dependency: missing = failure

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page()
            tab.set_default_timeout(15_000)
            yield tab
        finally:
            browser.close()


def rows(page: Any) -> list[str]:
    return [
        str(x)
        for x in page.eval_on_selector_all("#events tbody tr", "rows => rows.map(r => r.dataset.event)")
    ]


def test_sent_events_appear_live_and_the_filters_work(served: LocalBackend, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(url(served, "/"))
    expect(page.locator("#status")).to_contain_text("live")
    send_events(served, SAMPLE)  # after the page loaded: it must pick them up by polling
    events = page.locator("#events tbody tr")
    expect(events).to_have_count(3)
    assert rows(page) == ["didSelectFile", "didCreateEntry", "didCreateEntry"]
    expect(page.locator("#counts tbody tr[data-event='didCreateEntry'] td.total")).to_have_text("2")

    page.select_option("#name-filter", "didCreateEntry")
    expect(page.locator("#events tbody tr[data-event='didCreateEntry']")).to_have_count(2)
    expect(events).to_have_count(2)

    page.fill("#prop-filter", "model=category")
    expect(events).to_have_count(1)
    expect(events.first).to_contain_text('model="category"')

    page.select_option("#name-filter", "")
    page.fill("#prop-filter", "team=blue")  # a group property: a resource attribute
    expect(page.locator("#events tbody tr[data-event='didSelectFile']")).to_have_count(1)
    expect(events).to_have_count(1)

    page.fill("#prop-filter", "=broken")
    expect(page.locator("#filter-error")).to_contain_text("filter")

    page.fill("#prop-filter", "")
    expect(events).to_have_count(3)
    page.locator("#events tbody tr[data-event='didSelectFile']").click()
    expect(page.locator("#detail-payload")).to_contain_text('"event": "didSelectFile"')
    expect(page.locator("#detail-payload")).to_contain_text('"groupProperties"')
    expect(page.locator("#detail-payload")).to_contain_text('"mimeType": "image/png"')
    expect(page.locator("#detail-record")).to_contain_text('"eventName": "didSelectFile"')
    expect(page.locator("#detail-record")).to_contain_text('"service.name": "web-test"')
