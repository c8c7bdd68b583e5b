"""`otel-telemetry insights ...`: readable tables, the documented JSON, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from insights_data import FIXED, requests_for

from otel_telemetry.cli import main
from otel_telemetry.insights import open_source, trends
from otel_telemetry.store import EventStore

RANGE = ["--since", "2026-11-02", "--until", "2026-11-22"]
ACCEPTED = "--since and --until must be from 1970-01-01T00:00:00Z to 2262-04-11T00:00:00Z"


def OUT(option: str, value: str) -> str:
    return f"bad {option} {value!r}: out of range"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "events.db"
    with EventStore(path) as store:
        for request in requests_for(FIXED):
            store.add_request("http/protobuf", request)
    return path


def run(db: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["insights", *args, "--db", str(db)])
    return result.exit_code, result.output


def test_version_adoption_reads_as_a_table_of_versions_per_week(db: Path) -> None:
    code, out = run(
        db,
        "trends",
        "didStart",
        "--interval",
        "week",
        "--by",
        "service.version",
        "--count",
        "installations",
        *RANGE,
    )
    assert code == 0, out
    assert out.splitlines() == [
        "installations per week by service.version, didStart (total: distinct over the whole range)",
        "",
        "week (UTC)  1.0  1.1",
        "----------  ---  ---",
        "2026-11-02    2    1",
        "2026-11-09    0    1",
        "2026-11-16    1    0",
        "total         2    2",
    ]


def test_json_is_exactly_the_library_answer(db: Path) -> None:
    code, out = run(db, "trends", "didStart", "didPublish", "--interval", "week", "--json", *RANGE)
    assert code == 0, out
    with open_source(db) as src:
        assert json.loads(out) == trends(
            src, ["didStart", "didPublish"], interval="week", since="2026-11-02", until="2026-11-22"
        )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["breakdown", "model", "--json"], {"key": "model", "count": "events"}),
        (["funnel", "didStart", "didCreateEntry", "--window", "1d", "--json"], {"per": "installation"}),
        (["retention", "--period", "day", "--count", "users", "--json", *RANGE], {"period": "day"}),
    ],
)
def test_every_insight_answers_json(db: Path, args: list[str], expected: dict[str, object]) -> None:
    code, out = run(db, *args)
    assert code == 0, out
    answer = json.loads(out)
    assert expected.items() <= answer.items()
    if args[0] == "funnel":
        assert answer["window_s"] == 86400


def test_tables_for_breakdown_funnel_and_retention(db: Path) -> None:
    code, out = run(db, "breakdown", "database", "--count", "installations")
    assert code == 0 and "postgres              2  66.7%" in out, out
    code, out = run(db, "funnel", "didStart", "didCreateEntry", "didPublish")
    assert code == 0 and "3  didPublish                  1       33.3%" in out, out
    code, out = run(db, "retention", *RANGE)
    assert code == 0 and "2026-11-02     3  3 (100%)  2 (67%)  1 (33%)" in out, out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["trends", "--by", "modle"], "Error: unknown key 'modle'"),
        (["trends", "--since", "last tuesday"], "Error: bad --since 'last tuesday'"),
        (["trends", "--since", "2026-11-05", "--until", "2026-11-01"], "Error: empty range"),
        (["funnel", "didStart"], "Error: a funnel needs at least 2 steps"),
        (["funnel", "a", "b", "--window", "soon"], "Invalid value"),
        (["trends", "--since", "9999-01-01"], f"Error: {OUT('--since', '9999-01-01')}; {ACCEPTED}"),
        (["trends", "--since", "1000000d"], f"Error: {OUT('--since', '1000000d')}; {ACCEPTED}"),
        (["retention", "--until", "9999-12-31"], f"Error: {OUT('--until', '9999-12-31')}; {ACCEPTED}"),
        (["retention", "--until", "2262-04-11"], f"Error: {OUT('--until', '2262-04-11')} (as --until, a"),
        (["breakdown", "model", "--until", "1969-07-20"], f"{OUT('--until', '1969-07-20')}; {ACCEPTED}"),
        (["trends", "--since", "2300-01-01", "--until", "2200-01-01"], OUT("--since", "2300-01-01")),
        (["trends", "--since", "2999-01-01T10:00"], OUT("--since", "2999-01-01T10:00")),
        (["funnel", "a", "b", "--since", "99999999999999999999w"], OUT("--since", "99999999999999999999w")),
        (["trends", "--since", "2200-01-01"], "empty range: --since 2200-01-01T00:00:00Z is not before"),
        (["funnel", "a", "b", "--window", "99999999999d"], "at most 36525d (100 years), got '99999999999d'"),
    ],
)
def test_mistakes_are_one_clear_line_and_exit_1_or_2(db: Path, args: list[str], message: str) -> None:
    code, out = run(db, *args)
    assert code in (1, 2)
    assert message in out
    assert "Traceback" not in out
    assert "the query failed" not in out


def test_a_real_process_prints_the_answer_and_errors_without_traceback(db: Path, tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "otel_telemetry", "insights", "breakdown", "model", "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["rows"][1] == {"value": "article", "count": 5, "share": 0.3125}
    bad = subprocess.run(
        [sys.executable, "-m", "otel_telemetry", "insights", "trends", "--db", str(tmp_path / "none.db")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("Error: no events database at")
    assert len(bad.stderr.strip().splitlines()) == 1


BLOCK_EXTRA = (
    "import sys\n"
    "for name in ('chdb', 'clickhouse_connect'):\n"
    "    sys.modules[name] = None  # as if the [clickhouse] extra were not installed\n"
)


def test_without_the_clickhouse_extra_sqlite_works_and_chdb_says_what_to_install(
    db: Path, tmp_path: Path
) -> None:
    (tmp_path / "chdb-dir").mkdir()
    script = BLOCK_EXTRA + (
        "from otel_telemetry.cli import main\n"
        "sys.argv = ['otel-telemetry', 'insights', *sys.argv[1:]]\n"
        "main()\n"
    )
    ok = subprocess.run(
        [sys.executable, "-c", script, "breakdown", "model", "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["key"] == "model"
    missing = subprocess.run(
        [sys.executable, "-c", script, "trends", "--db", f"chdb:{tmp_path / 'chdb-dir'}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1
    assert missing.stderr.strip() == "Error: chDB is not installed: pip install 'otel-telemetry[clickhouse]'"
    server = subprocess.run(
        [sys.executable, "-c", script, "trends", "--db", "clickhouse://127.0.0.1:1/otel"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert server.returncode == 1
    assert "needs clickhouse-connect: pip install 'otel-telemetry[clickhouse]'" in server.stderr
