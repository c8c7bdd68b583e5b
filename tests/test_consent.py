"""Consent, notice, sampling and default properties from code (docs/consent.md).

Delivery goes to a real receiver where the wire matters (the sample rate attribute, the
installation id); the in-memory exporter (the public Exporter interface, decoding the very
request a collector gets) where hypothesis generates many cases."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telemetry_helpers import telemetry_to

from otel_telemetry import (
    DefaultProperties,
    InMemoryExporter,
    PrivacySettings,
    RecordSettings,
    SamplingSettings,
    Telemetry,
    TelemetryError,
    consent,
)
from otel_telemetry.consent_store import AppState, app_dir_name
from otel_telemetry.receiver import OTLPReceiver
from otel_telemetry.sampling import SAMPLE_RATE_ATTRIBUTE


def binomial_two_sided_p(k: int, n: int, p: float) -> float:
    """Exact two-sided p-value of ``k`` successes in ``n`` trials of probability ``p``."""
    log_pmf = [
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        + i * math.log(p)
        + (n - i) * math.log1p(-p)
        for i in range(n + 1)
    ]
    pmf = [math.exp(value) for value in log_pmf]
    return min(1.0, sum(q for q in pmf if q <= pmf[k] * (1 + 1e-9)))


# -- sampling ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sampling_keeps_a_binomially_plausible_share_and_stamps_the_rate(
    receiver: OTLPReceiver, seed: int
) -> None:
    n, rate = 2000, 0.1
    sampling = SamplingSettings(sample_rates={"didReceiveRequest": rate}, lifecycle={"didStart"}, seed=seed)
    with telemetry_to(receiver, "http/protobuf", records=RecordSettings(sampling=sampling)) as t:
        assert t.send("didStart")
        for i in range(n):
            assert t.send("didReceiveRequest", {"eventProperties": {"i": i}})
        assert t.send("didStop")
        assert t.flush(10.0)
        stats = t.stats()
    requests = [r for r in receiver.records if r.event_name == "didReceiveRequest"]
    kept = len(requests)
    assert binomial_two_sided_p(kept, n, rate) > 0.001, kept
    assert stats.sampled_out == {"didReceiveRequest": n - kept}
    assert stats.dropped == {} and stats.exported == kept + 2
    assert all(r.attributes[SAMPLE_RATE_ATTRIBUTE] == rate for r in requests)
    others = [r for r in receiver.records if r.event_name != "didReceiveRequest"]
    assert [r.event_name for r in others] == ["didStart", "didStop"]
    assert all(SAMPLE_RATE_ATTRIBUTE not in r.attributes for r in others)


def test_the_insights_scale_sampled_counts_back(receiver: OTLPReceiver, tmp_path: Path) -> None:
    from otel_telemetry.insights import open_source, trends
    from otel_telemetry.store import EventStore

    n = 1000
    sampling = SamplingSettings(sample_rates={"didReceiveRequest": 0.25}, seed=11)
    with telemetry_to(receiver, "http/protobuf", records=RecordSettings(sampling=sampling)) as t:
        for _ in range(n):
            t.send("didReceiveRequest")
        t.send("didStart")
        assert t.flush(10.0)
    store = EventStore(tmp_path / "events.db")
    store.add_records(receiver.records)
    kept = sum(1 for r in receiver.records if r.event_name == "didReceiveRequest")
    answer = trends(open_source(tmp_path / "events.db"), ["didReceiveRequest", "didStart"], since="2d")
    totals = {series["event"]: series["total"] for series in answer["series"]}
    assert totals == {"didReceiveRequest": kept * 4, "didStart": 1}
    assert binomial_two_sided_p(kept, n, 0.25) > 0.001


def test_the_same_seed_keeps_the_same_events() -> None:
    def kept(seed: int) -> list[int]:
        exporter = InMemoryExporter()
        sampling = SamplingSettings(sample_rates={"e": 0.3}, seed=seed)
        with Telemetry("s", exporter=exporter, records=RecordSettings(sampling=sampling)) as t:
            for i in range(200):
                t.send("e", event_properties={"i": i})
            t.flush()
        return [r.attributes["i"] for r in exporter.records]

    assert kept(5) == kept(5) != kept(6)


def test_lifecycle_events_are_never_sampled_even_by_the_default_rate() -> None:
    exporter = InMemoryExporter()
    sampling = SamplingSettings(default_rate=0.01, lifecycle={"didStart", "didStop"}, seed=0)
    with Telemetry("s", exporter=exporter, records=RecordSettings(sampling=sampling)) as t:
        for _ in range(50):
            t.send("didStart")
            t.send("didStop")
            t.send("tick")
        t.flush()
        sampled_out = t.stats().sampled_out
    names = [r.event_name for r in exporter.records]
    assert names.count("didStart") == names.count("didStop") == 50
    assert sampled_out["tick"] == 50 - names.count("tick") and sampled_out["tick"] > 40
    assert all(
        r.attributes[SAMPLE_RATE_ATTRIBUTE] == 0.01 for r in exporter.records if r.event_name == "tick"
    )


def test_a_policy_sees_the_stamp_and_keeps_it() -> None:
    seen: list[Any] = []

    def policy(event: Any) -> Any:
        seen.append(event.annotations)
        return event._replace(annotations={**(event.annotations or {}), "checked": True})

    exporter = InMemoryExporter()
    sampling = SamplingSettings({"e": 0.5}, seed=1)
    with Telemetry("s", exporter=exporter, policies=[policy], records=RecordSettings(sampling=sampling)) as t:
        while not exporter.records:
            t.send("e")
            t.flush()
    assert seen[-1] == {SAMPLE_RATE_ATTRIBUTE: 0.5}
    assert exporter.records[0].attributes[SAMPLE_RATE_ATTRIBUTE] == 0.5
    assert exporter.records[0].attributes["checked"] is True


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sample_rates": {"e": 0}}, "sample_rates['e']"),
        ({"sample_rates": {"e": 1.5}}, "sample_rates['e']"),
        ({"sample_rates": {"e": "0.1"}}, "sample_rates['e']"),
        ({"sample_rates": [("e", 0.1)]}, "sample_rates"),
        ({"default_rate": float("nan")}, "default_rate"),
        ({"lifecycle": "didStart"}, "lifecycle"),
        ({"seed": "1"}, "seed"),
    ],
)
def test_bad_sampling_settings_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(TelemetryError) as error:
        SamplingSettings(**kwargs)
    assert error.value.field == field


# -- default properties --------------------------------------------------------------------------

keys = st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=4)
groups = st.dictionaries(keys, st.integers(-1000, 1000), max_size=5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    default_event=groups,
    default_user=groups,
    in_payload=groups,
    given_kw=st.none() | groups,
    use_payload=st.booleans(),
)
def test_default_properties_are_merged_under_the_calls_own(
    default_event: dict[str, int],
    default_user: dict[str, int],
    in_payload: dict[str, int],
    given_kw: dict[str, int] | None,
    use_payload: bool,
) -> None:
    exporter = InMemoryExporter()
    defaults = DefaultProperties(event=default_event, user=default_user, group={"tier": "free"})
    with Telemetry("d", exporter=exporter, records=RecordSettings(default_properties=defaults)) as t:
        payload = {"eventProperties": in_payload} if use_payload else None
        assert t.send("e", payload, event_properties=given_kw)
        assert t.flush()
    [record] = exporter.records
    expected_event = {**default_event, **(in_payload if use_payload else {}), **(given_kw or {})}
    assert {k: v for k, v in record.attributes.items() if not k.startswith("user.")} == expected_event
    assert {k[5:]: v for k, v in record.attributes.items() if k.startswith("user.")} == default_user
    assert record.resource["tier"] == "free"
    assert default_event == defaults.event, "the defaults are not changed by a send"


def test_a_bad_group_is_still_refused_with_defaults_set() -> None:
    exporter = InMemoryExporter()
    defaults = DefaultProperties(event={"a": 1})
    with Telemetry("d", exporter=exporter, records=RecordSettings(default_properties=defaults)) as t:
        assert not t.send("e", {"eventProperties": ["not", "a", "dict"]})
        assert not t.send("e", event_properties="nope")  # type: ignore[arg-type]
        assert t.stats().dropped == {"invalid": 2}


def test_bad_default_properties_name_the_field() -> None:
    with pytest.raises(TelemetryError) as error:
        DefaultProperties(user={1: "x"})  # type: ignore[dict-item]
    assert error.value.field == "user[1]"
    with pytest.raises(TelemetryError) as error:
        DefaultProperties(event=[("a", 1)])  # type: ignore[arg-type]
    assert error.value.field == "event"


# -- the stored choice, from code ----------------------------------------------------------------


def test_disable_from_code_stops_this_process_at_once_and_discards_what_is_queued(
    receiver: OTLPReceiver,
) -> None:
    with telemetry_to(receiver, "http/protobuf", delivery=None) as t:
        t.send("before")
        assert t.flush(10.0)
        for _ in range(5):
            t.send("queued")  # accepted, then the user disables before they are exported
        change = consent.disable("test-app", telemetry=t)
        assert not change.status.enabled
        assert change.deleted_events == 5
        assert t.send("after") is True  # accepted and ignored: telemetry is off
        assert t.flush(5.0)
        assert t.stats().dropped == {"opted_out": 5}
    assert [r.event_name for r in receiver.records] == ["before"]


def test_enable_and_reset_from_code_apply_to_this_process(receiver: OTLPReceiver) -> None:
    with telemetry_to(receiver, "http/protobuf", privacy=PrivacySettings(opt_in=True)) as t:
        t.send("ignored")
        consent.enable("test-app", telemetry=t)
        t.send("first")
        assert t.flush(10.0)
        new_id = consent.reset("test-app", telemetry=t).status.installation_id
        t.send("second")
        assert t.flush(10.0)
    first, second = receiver.records
    assert (first.event_name, second.event_name) == ("first", "second")
    assert first.resource["app.installation.id"] != second.resource["app.installation.id"] == new_id


def test_the_environment_wins_over_a_stored_enable(
    monkeypatch: pytest.MonkeyPatch, receiver: OTLPReceiver
) -> None:
    consent.enable("test-app")
    for variable, value in (
        ("DO_NOT_TRACK", "1"),
        ("OTEL_SDK_DISABLED", "true"),
        ("MYAPP_NO_TELEMETRY", "1"),
    ):
        monkeypatch.setenv(variable, value)
        privacy = PrivacySettings(disable_env="MYAPP_NO_TELEMETRY")
        with telemetry_to(receiver, "http/protobuf", privacy=privacy) as t:
            t.send("never")
            status = consent.status("test-app", telemetry=t)
        assert not status.enabled and f"{variable}={value}" in status.reason
        monkeypatch.delenv(variable)
    time.sleep(0.5)
    assert receiver.records == []


def test_a_damaged_choice_file_counts_as_no_choice(clean_environment: Path, caplog: Any) -> None:
    state = AppState(clean_environment, "broken")
    state.directory.mkdir(parents=True)
    state.choice_path.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="otel_telemetry"):
        status = consent.status("broken")
    assert status.enabled and status.stored.enabled is None
    assert "damaged" in caplog.text
    consent.disable("broken")
    assert consent.status("broken").stored.enabled is False


def test_an_unwritable_state_directory_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("OTEL_TELEMETRY_STATE_DIR", str(blocker / "state"))
    with pytest.raises(TelemetryError) as error:
        consent.disable("app")
    assert error.value.field == "state_dir"


def test_the_app_name_must_match_the_telemetry() -> None:
    with Telemetry("real-name", exporter=InMemoryExporter()) as t, pytest.raises(TelemetryError) as error:
        consent.status("other-name", telemetry=t)
    assert error.value.field == "app"
    with Telemetry("svc", exporter=InMemoryExporter(), privacy=PrivacySettings(app="brand")) as t:
        assert consent.status("brand", telemetry=lambda: t).app == "brand"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=30).filter(str.strip), min_size=2, max_size=2, unique=True))
def test_each_app_name_gets_its_own_safe_directory(names: list[str]) -> None:
    first, second = (app_dir_name(name) for name in names)
    assert first != second
    for directory in (first, second):
        assert "/" not in directory and "\0" not in directory
        assert not directory.startswith(".")


# -- the notice ----------------------------------------------------------------------------------


def test_the_notice_goes_to_the_callback_once_per_installation_and_again_when_it_changes() -> None:
    shown: list[str] = []
    for text in ("We count commands.", "We count commands.", "We now also count errors."):
        privacy = PrivacySettings(notice=text, notice_to=shown.append)
        with Telemetry("n", exporter=InMemoryExporter(), privacy=privacy) as t:
            t.send("e")
            t.send("e")
    assert shown == ["We count commands.", "We now also count errors."]


def test_the_notice_is_shown_once_by_processes_starting_together(receiver: OTLPReceiver) -> None:
    script = (
        "import otel_telemetry as o\n"
        "t = o.Telemetry('race', privacy=o.PrivacySettings(notice='NOTICE-TEXT'))\n"
        "t.send('started')\n"
    )
    env = dict(os.environ, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.http_endpoint)
    processes = [
        subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60)[1] for p in processes]
    assert sum(out.count("NOTICE-TEXT") for out in outputs) == 1, outputs
    assert receiver.wait_for(4, timeout=10)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"opt_in": "yes"}, "opt_in"),
        ({"notice": "  "}, "notice"),
        ({"notice_to": "stderr"}, "notice_to"),
        ({"sent_log": -1}, "sent_log"),
        ({"sent_log": 10**6}, "sent_log"),
        ({"check_interval_s": -1}, "check_interval_s"),
        ({"app": ""}, "app"),
    ],
)
def test_bad_consent_settings_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(TelemetryError) as error:
        PrivacySettings(**kwargs)
    assert error.value.field == field


# -- the record of sent events -------------------------------------------------------------------


def test_the_record_of_sent_events_is_bounded_and_off_by_default(clean_environment: Path) -> None:
    with Telemetry("quiet", exporter=InMemoryExporter()) as t:
        t.send("e")
        t.flush()
    assert not AppState(clean_environment, "quiet").sent_log_path.exists()
    assert "keeps no record" in consent.show("quiet")[0]
    with Telemetry("kept", exporter=InMemoryExporter(), privacy=PrivacySettings(sent_log=5)) as t:
        for i in range(12):
            t.send("e", event_properties={"i": i})
            t.flush()
        lines = consent.show("kept", last=100, telemetry=t)
    assert len(AppState(clean_environment, "kept").sent_log_path.read_text().splitlines()) == 5
    assert [line.split("i=")[1].split()[0] for line in lines] == ["7", "8", "9", "10", "11"]


def test_a_forked_child_obeys_the_stored_choice_too(receiver: OTLPReceiver) -> None:
    with telemetry_to(receiver, "http/protobuf", privacy=PrivacySettings(check_interval_s=0.1)) as t:
        t.send("parent")
        assert t.flush(10.0)
        consent.disable("test-app")
        pid = os.fork()
        if pid == 0:  # the child: sends after the user disabled telemetry
            code = 0
            try:
                time.sleep(0.2)
                t.send("child")
                t.flush(2.0)
            except BaseException:
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
    time.sleep(0.5)
    assert [r.event_name for r in receiver.records] == ["parent"]


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_content_of_the_choice_file_reads_as_a_choice_or_none(
    tmp_path_factory: Any, content: bytes
) -> None:
    state = AppState(tmp_path_factory.mktemp("s"), "fuzz")
    state.directory.mkdir(parents=True)
    state.choice_path.write_bytes(content)
    choice = state.read()
    assert choice.enabled in (True, False, None)
    assert choice.installation_id is None or len(choice.installation_id) == 36


def test_concurrent_commands_never_leave_a_damaged_choice(clean_environment: Path, caplog: Any) -> None:
    script = (
        "import sys\n"
        "from otel_telemetry import consent\n"
        "for i in range(25):\n"
        "    (consent.enable if i % 2 else consent.disable)('busy')\n"
        "    if i % 5 == 0:\n"
        "        consent.reset('busy')\n"
    )
    writers = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(3)]
    state = AppState(clean_environment, "busy")
    seen = set()
    with caplog.at_level(logging.WARNING, logger="otel_telemetry"):
        while any(w.poll() is None for w in writers):
            seen.add(state.read().enabled)
    assert all(w.wait(timeout=60) == 0 for w in writers)
    assert "damaged" not in caplog.text and "cannot read" not in caplog.text
    assert {True, False} <= seen
    final = state.read()
    assert final.enabled is False and final.installation_id is not None  # the last update is a disable


def test_status_names_the_apps_own_disabled_flag() -> None:
    with Telemetry("off-in-code", exporter=InMemoryExporter(), disabled=True) as t:
        status = consent.status("off-in-code", telemetry=t)
    assert not status.enabled and "Telemetry(disabled=True)" in status.reason
    assert "The app itself keeps telemetry off." in str(status)


CATALOG = Path(__file__).resolve().parent.parent / "examples" / "telemetry-catalog.yaml"


def test_status_lists_what_the_catalog_says_is_collected(monkeypatch: pytest.MonkeyPatch) -> None:
    with Telemetry("cms", exporter=InMemoryExporter(), catalog=str(CATALOG)) as t:
        in_code = consent.status("cms", telemetry=t)
    monkeypatch.setenv("OTEL_TELEMETRY_CATALOG", str(CATALOG))
    from_env = consent.status("cms")
    for status in (in_code, from_env):
        assert status.collected[0].startswith("the events of the catalog")
        [line] = [line for line in status.collected if line.startswith("- didCreateEntry:")]
        assert "eventProperties.model" in line and "userProperties.role" in line
        assert "userProperties.email (hashed)" in line
    monkeypatch.setenv("OTEL_TELEMETRY_CATALOG", str(CATALOG.with_name("missing.yaml")))
    broken = consent.status("cms")
    assert "cannot be read" in broken.collected[0] and "missing.yaml" in broken.collected[0]


def test_a_notice_callback_may_send_an_event_itself() -> None:
    exporter = InMemoryExporter()
    holder: list[Telemetry] = []
    settings = PrivacySettings(notice="we count", notice_to=lambda text: holder[0].send("noticeShown"))
    with Telemetry("cb", exporter=exporter, privacy=settings) as t:
        holder.append(t)
        t.send("first")
        t.flush()
    assert [r.event_name for r in exporter.records] == ["noticeShown", "first"]


def test_a_one_shot_check_for_senders_acting_for_the_app(clean_environment: Path) -> None:
    from otel_telemetry.consent_gate import allowed_for

    assert allowed_for(clean_environment, "agent") and not allowed_for(
        clean_environment, "agent", opt_in=True
    )
    consent.disable("agent")
    assert not allowed_for(clean_environment, "agent")
    consent.enable("agent")
    assert allowed_for(clean_environment, "agent", opt_in=True)
