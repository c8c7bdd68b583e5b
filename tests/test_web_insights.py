"""The Insights view in a real browser, over the demo's history sent through the library.

The history (weeks of 40 installations, a rollout, the content funnel) goes through ``Telemetry``
with ``send(timestamp=...)`` into `serve`'s receiver and store; headless Chromium loads the page
from the viewer and every chart is checked against the JSON API's answer for the same question.
Screenshots are written to ``$WEB_SCREENSHOT_DIR`` (default: the test's temporary directory).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import test_web

from otel_telemetry.cli.demo_history import FUNNEL, history_end, plan_history, send_history
from otel_telemetry.cli.local import LocalBackend

page = test_web.page  # the Chromium tab fixture


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The viewer's base URL, over a store holding the demo's history."""
    db = tmp_path_factory.mktemp("insights") / "events.db"
    with LocalBackend("127.0.0.1", None, 0, db_path=db, web_port=0) as backend:
        sent = list(
            send_history(plan_history(history_end()), backend.receiver.http_endpoint, "http/protobuf")
        )
        assert all(exported for _, exported in sent)
        assert backend.web is not None
        yield backend.web.url.rstrip("/")


def api(base: str, insight: str, **params: Any) -> Any:
    response = requests.get(f"{base}/api/insights/{insight}", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def shoot(tab: Any, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("WEB_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(folder / f"insights-{name}.png"), full_page=True)


def ready(tab: Any) -> None:
    from playwright.sync_api import expect

    expect(tab.locator("#insight-result")).to_have_attribute("data-state", "ready")


def test_trends_draw_a_line_per_version_and_the_url_restores_the_view(
    history: str, page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{history}/#insights?insight=trends&by=service.version&count=installations&interval=week")
    ready(page)
    answer = api(history, "trends", by="service.version", count="installations", interval="week")
    lines = page.locator("svg.trend-chart path.series")
    expect(lines).to_have_count(3)
    assert sorted(lines.evaluate_all("ps => ps.map(p => p.dataset.label)")) == ["4.14.2", "4.15.0", "4.15.1"]
    for series in answer["series"]:
        item = page.locator(f".legend li[data-label='{series['group']}'] .total")
        expect(item).to_have_text(str(series["total"]))
        points = page.locator(f"svg.trend-chart circle:has(title:text-matches('^{series['group']} '))")
        expect(points).to_have_count(len(series["points"]))
    title = "Installations per week by service.version · all events"
    expect(page.locator("#insight-title")).to_have_text(title)
    shoot(page, tmp_path, "trends-versions")

    page.select_option("#i-interval", "day")  # the URL follows the controls...
    ready(page)
    assert "interval=day" in page.url and "by=service.version" in page.url
    shared = page.url
    page.goto("about:blank")
    page.goto(shared)  # ...so a shared link opens the same view
    ready(page)
    expect(page.locator("#i-interval")).to_have_value("day")
    expect(page.locator("#i-by")).to_have_value("service.version")
    expect(page.locator("#i-count")).to_have_value("installations")
    days = len(api(history, "trends", by="service.version", count="installations")["series"][0]["points"])
    assert days >= 42
    expect(page.locator("svg.trend-chart path.series").first).to_have_attribute("d", re.compile(r"^M[^M]*$"))
    expect(page.locator("svg.trend-chart circle")).to_have_count(3 * days)
    shoot(page, tmp_path, "trends-daily")
    assert {urlsplit(url).netloc for url in requested} <= {urlsplit(history).netloc, ""}  # offline: no CDN


def test_breakdown_shows_a_bar_and_share_per_value(history: str, page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1100, "height": 600})
    page.goto(f"{history}/#insights")
    page.select_option("#i-insight", "breakdown")
    page.fill("#i-key", "database")
    page.locator("#i-key").dispatch_event("change")
    ready(page)
    answer = api(history, "breakdown", key="database")
    rows = page.locator("#breakdown tbody tr")
    expect(rows).to_have_count(len(answer["rows"]))
    assert [r["value"] for r in answer["rows"]][:1] == ["postgres"]
    for row in answer["rows"]:
        tr = page.locator(f"#breakdown tbody tr[data-value='{row['value']}']")
        expect(tr.locator(".count")).to_have_text(f"{row['count']:,}")
        expect(tr.locator(".share")).to_have_text(percent(row["share"]))
    widths = rows.locator(".hbar").evaluate_all("bars => bars.map(b => b.getBoundingClientRect().width)")
    assert widths == sorted(widths, reverse=True) and widths[-1] > 0
    assert "insight=breakdown" in page.url and "key=database" in page.url
    shoot(page, tmp_path, "breakdown-database")


def percent(share: float) -> str:
    """A share as the page shows it (charts.js ``percent``): whole percent, one decimal under
    10%, halves rounded up, as JavaScript's ``toFixed`` does (Python's ``round`` rounds 62.5 to
    62, the page to 63: the data once held a funnel step at exactly 62.5%)."""
    places = Decimal("0.1") if 0 < share < 0.1 else Decimal(1)
    return f"{Decimal(share * 100).quantize(places, rounding=ROUND_HALF_UP)}%"


def test_funnel_shows_each_steps_count_and_conversion(history: str, page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1100, "height": 500})
    steps = ", ".join(FUNNEL)
    page.goto(f"{history}/#insights?insight=funnel&steps={steps}&window=86400")
    ready(page)
    answer = api(history, "funnel", steps=list(FUNNEL), window_s=86400)
    rows = page.locator("#funnel tbody tr")
    expect(rows).to_have_count(4)
    for step in answer["steps"]:
        tr = page.locator(f"#funnel tbody tr[data-step='{step['event']}']")
        expect(tr.locator(".count")).to_have_text(f"{step['count']:,}")
        expect(tr.locator(".conversion")).to_have_text(percent(step["conversion"]))
    counts = [step["count"] for step in answer["steps"]]
    assert counts == sorted(counts, reverse=True) and counts[-1] > 0
    expect(page.locator("#i-window")).to_have_value("86400")
    shoot(page, tmp_path, "funnel")


def test_retention_is_a_table_shaded_by_the_share_that_returned(
    history: str, page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1100, "height": 600})
    page.goto(f"{history}/#insights?insight=retention&period=week")
    ready(page)
    answer = api(history, "retention", period="week")
    expect(page.locator("#retention tbody tr")).to_have_count(len(answer["cohorts"]))
    first = answer["cohorts"][0]
    assert first["size"] > 0
    cells = page.locator(f"#retention tbody tr[data-start='{first['start']}'] td.cell")
    expect(cells).to_have_count(len(first["returned"]))
    shares = [float(s) for s in cells.evaluate_all("cs => cs.map(c => c.dataset.share)")]
    assert shares == pytest.approx([n / first["size"] for n in first["returned"]], abs=1e-3)
    assert shares[0] == 1.0 and 0 < shares[-1] < 1
    alphas = cells.evaluate_all(  # rgba(r, g, b, a), or rgb(r, g, b) when opaque
        "cs => cs.map(c => { const v = getComputedStyle(c).backgroundColor.match(/[0-9.]+/g).map(Number);"
        " return v.length > 3 ? v[3] : 1; })"
    )
    darkest = max(range(len(shares)), key=lambda i: shares[i])
    assert alphas[darkest] == max(alphas) and min(alphas) < alphas[darkest]  # a heat map: more is darker
    shoot(page, tmp_path, "retention")


def test_a_question_that_cannot_be_answered_shows_the_insights_message(history: str, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{history}/#insights?insight=trends&by=no.such.key")
    expect(page.locator("#insight-result")).to_have_attribute("data-state", "error")
    response = requests.get(f"{history}/api/insights/trends", params={"by": "no.such.key"}, timeout=10)
    assert response.status_code == 400
    expect(page.locator("#insight-error")).to_have_text(response.json()["error"])
    expect(page.locator("svg.trend-chart")).to_have_count(0)
    page.click("#tab-events")  # the events view is one click away and still works
    expect(page.locator("#events-view")).to_be_visible()
    expect(page.locator("#status")).to_contain_text("live")
