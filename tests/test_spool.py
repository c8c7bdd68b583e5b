"""The spool's parts on real files: frames survive damage, segments roll and are deleted once
acknowledged, directories of dead processes are adopted, caps evict or refuse with a count."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import otel_telemetry
from otel_telemetry import OTLPExporter, Telemetry
from otel_telemetry.counters import Counters
from otel_telemetry.receiver import OTLPReceiver
from otel_telemetry.settings import SpoolSettings
from otel_telemetry.spool.frames import HEADER_SIZE, Damage, Frame, encode_frame, parse
from otel_telemetry.spool.segments import ACK_NAME, SpoolDir
from otel_telemetry.spool.spool import Spool

frames_strategy = st.lists(st.tuples(st.binary(max_size=300), st.integers(0, 1000)), max_size=12)


# -- frames ----------------------------------------------------------------------------------


@given(frames_strategy)
def test_frames_read_back_exactly_as_written(items: list[tuple[bytes, int]]) -> None:
    data = b"".join(encode_frame(payload, records) for payload, records in items)
    parsed = list(parse(data))
    assert all(isinstance(item, Frame) for item in parsed)
    assert [(f.payload, f.records) for f in parsed if isinstance(f, Frame)] == items


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(frames_strategy, st.data())
def test_damaged_bytes_never_raise_and_every_good_frame_is_original(
    items: list[tuple[bytes, int]], data: st.DataObject
) -> None:
    raw = bytearray(b"".join(encode_frame(payload, records) for payload, records in items))
    if raw:
        for _ in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    parsed = list(parse(bytes(raw)))
    # frames and damage tile the input exactly, in order
    position = 0
    for item in parsed:
        assert item.start == position and item.end > item.start
        position = item.end
    assert position == len(raw)
    originals = {(payload, records) for payload, records in items}
    for item in parsed:
        if isinstance(item, Frame):
            assert (item.payload, item.records) in originals


def test_a_frame_after_a_damaged_one_is_still_read() -> None:
    first, second, third = encode_frame(b"a" * 50, 1), encode_frame(b"b" * 50, 2), encode_frame(b"c" * 50, 3)
    raw = bytearray(first + second + third)
    raw[len(first) + HEADER_SIZE + 10] ^= 0xFF  # a bit flip inside the second payload
    parsed = list(parse(bytes(raw)))
    assert [type(item) for item in parsed] == [Frame, Damage, Frame]
    assert isinstance(parsed[1], Damage) and parsed[1].reason == "checksum mismatch"
    assert parsed[1].records == 2
    assert [item.payload for item in parsed if isinstance(item, Frame)] == [b"a" * 50, b"c" * 50]


def test_an_incomplete_tail_waits_for_more_bytes_unless_the_segment_is_complete() -> None:
    raw = encode_frame(b"x" * 100, 1) + encode_frame(b"y" * 100, 1)[:-10]
    assert [type(item) for item in parse(raw, complete=False)] == [Frame]
    assert [type(item) for item in parse(raw, complete=True)] == [Frame, Damage]


# -- one directory ---------------------------------------------------------------------------


def _fill(spool_dir: SpoolDir, count: int, size: int = 1000, segment_bytes: int = 4096) -> None:
    for i in range(count):
        spool_dir.append(encode_frame(bytes([i % 256]) * size, 1), 1, segment_bytes, fsync_on_roll=False)


def test_segments_roll_and_are_deleted_once_acknowledged(tmp_path: Path) -> None:
    own = SpoolDir.create(tmp_path, fsync=False)
    _fill(own, 20)
    assert len(own.segments) > 1 and own.pending_records == 20
    seen = 0
    while (chunk := own.read_chunk(3)) is not None:
        assert 1 <= chunk.records <= 3
        seen += chunk.records
        own.ack(chunk)
    assert seen == 20 and own.pending_records == 0
    assert len(list(own.path.glob("*.seg"))) == 1  # only the active segment is left
    own.release()
    assert not own.path.exists()  # drained: the directory goes away


def test_an_adopter_resumes_after_the_last_acknowledgement(tmp_path: Path) -> None:
    own = SpoolDir.create(tmp_path, fsync=False)
    _fill(own, 10)
    acked = 0
    while acked < 4 and (chunk := own.read_chunk(1)) is not None:
        own.ack(chunk)
        acked += 1
    assert (own.path / ACK_NAME).exists()
    own.release()  # not drained: the directory stays, unlocked
    adopted = SpoolDir.adopt(own.path)
    assert adopted is not None and adopted.pending_records == 6
    payloads = []
    while (chunk := adopted.read_chunk(100)) is not None:
        payloads += [frame.payload[0] for frame in chunk.frames]
        adopted.ack(chunk)
    assert payloads == [4, 5, 6, 7, 8, 9]
    adopted.release()
    assert not own.path.exists()


def test_a_live_directory_cannot_be_adopted_even_from_the_same_process(tmp_path: Path) -> None:
    own = SpoolDir.create(tmp_path, fsync=False)
    assert SpoolDir.adopt(own.path) is None
    own.release(remove_if_drained=False)
    adopted = SpoolDir.adopt(own.path)
    assert adopted is not None
    adopted.release()


def test_the_directory_of_a_killed_process_becomes_adoptable(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from otel_telemetry.spool.segments import SpoolDir
        from otel_telemetry.spool.frames import encode_frame
        own = SpoolDir.create(Path({str(tmp_path)!r}), fsync=False)
        own.append(encode_frame(b"payload", 7), 7, 4096, False)
        print(own.path, flush=True)
        time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        path = Path(child.stdout.readline().strip())
        assert SpoolDir.adopt(path) is None  # its owner is alive
        child.kill()
        child.wait(10)
        adopted = SpoolDir.adopt(path)
        assert adopted is not None and adopted.pending_records == 7
        adopted.release(remove_if_drained=False)
    finally:
        child.kill()
        child.wait(10)


# -- the spool: caps and policies ------------------------------------------------------------


def _spool(tmp_path: Path, overflow: str, max_bytes: int = 64 * 1024) -> tuple[Spool, Counters]:
    counters = Counters()
    spool = Spool(SpoolSettings(tmp_path, max_bytes=max_bytes, fsync="never"), counters, overflow)  # type: ignore[arg-type]
    assert spool.open()
    return spool, counters


def test_a_full_spool_refuses_new_batches_with_drop_newest(tmp_path: Path) -> None:
    spool, _ = _spool(tmp_path, "drop_newest")
    results = [spool.append(b"z" * 4000, 10, 0.0) for _ in range(40)]
    refused = [r for r in results if r is not None]
    assert refused and all(reason == "spool_full" for reason, _ in refused)
    pending, size = spool.pending()
    assert size <= 64 * 1024
    assert pending == 10 * (40 - len(refused))
    chunk = spool.next_chunk(10)
    assert chunk is not None and chunk.frames[0].payload == b"z" * 4000
    spool.close()


def test_a_full_spool_evicts_whole_old_segments_with_drop_oldest(tmp_path: Path) -> None:
    spool, counters = _spool(tmp_path, "drop_oldest")
    for i in range(40):
        assert spool.append(bytes([i]) * 4000, 10, 0.0) is None
    pending, size = spool.pending()
    assert size <= 64 * 1024
    evicted = counters.dropped["spool_full"]
    assert evicted > 0 and pending + evicted == 400
    seen = []
    while (chunk := spool.next_chunk(10)) is not None:
        seen += [frame.payload[0] for frame in chunk.frames]
        spool.ack(chunk)
    assert seen[-1] == 39 and seen == sorted(seen)  # the newest survive, in order
    assert seen[0] == 0  # the segment being read is never evicted under the sender
    spool.close()


def test_block_waits_for_acknowledgements_then_gives_up(tmp_path: Path) -> None:
    spool, _ = _spool(tmp_path, "block")
    while spool.append(b"q" * 4000, 1, 0.0) is None:
        pass
    assert spool.append(b"q" * 4000, 1, 0.05) == (
        "spool_full",
        f"spool {spool.path} reached its cap of {64 * 1024} bytes",
    )
    while (chunk := spool.next_chunk(100)) is not None:  # the sender frees whole segments
        spool.ack(chunk)
    assert spool.append(b"q" * 4000, 1, 0.05) is None
    spool.close()


def test_an_unusable_directory_is_reported_and_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    spool = Spool(SpoolSettings(blocker / "spool"), Counters(), "drop_newest")
    assert not spool.open()
    assert "cannot use spool directory" in caplog.text
    assert spool.append(b"x", 1, 0.0) is not None


def test_orphans_are_found_and_their_events_counted_as_recovered(tmp_path: Path) -> None:
    dead = SpoolDir.create(tmp_path, fsync=False)
    _fill(dead, 5)
    dead.release(remove_if_drained=False)
    spool, counters = _spool(tmp_path, "drop_newest")
    chunk = spool.next_chunk(100)
    assert chunk is not None and chunk.directory.path == dead.path
    assert counters.recovered == 5
    spool.ack(chunk)
    assert spool.next_chunk(100) is None
    assert not dead.path.exists()
    assert os.listdir(tmp_path) == [spool.path.name]  # type: ignore[union-attr]
    spool.close()


def test_directories_and_files_that_are_not_the_spools_are_never_touched(tmp_path: Path) -> None:
    (tmp_path / "empty-dir").mkdir()
    (tmp_path / "12-notours").mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    other = SpoolDir.create(tmp_path, fsync=False)
    (other.path / "extra.txt").write_text("someone's")
    other.release()  # drained, but holds a foreign file: the directory stays, our files go
    spool, _ = _spool(tmp_path, "drop_newest")
    assert spool.next_chunk(10) is None
    spool.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["empty-dir", "12-notours", "notes.txt", other.path.name]
    )
    assert [p.name for p in other.path.iterdir()] == ["extra.txt"]


# -- what arrives through the spool is what arrives without it -------------------------------

_keys = st.text(min_size=1, max_size=10).filter(
    lambda k: not k.startswith(("user.", "otel.", "otel_telemetry."))
)
_values = st.recursive(
    st.one_of(
        st.text(max_size=30),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False),
        st.none(),
        st.lists(st.integers(0, 9), max_size=3),
    ),
    lambda inner: st.dictionaries(_keys, inner, max_size=3) | st.lists(inner, max_size=3),
    max_leaves=8,
)
_events = st.lists(
    st.tuples(
        # printable by construction (letters, digits, punctuation, symbols, space): little to filter
        st.text(
            st.characters(categories=("L", "N", "P", "S"), include_characters=" "), min_size=1, max_size=20
        ).filter(str.strip),
        st.dictionaries(_keys, _values, max_size=4),
        st.dictionaries(_keys, _values, max_size=2),
        st.dictionaries(_keys, st.text(max_size=8), max_size=2),
        st.one_of(st.none(), st.text(min_size=1, max_size=12)),
    ),
    min_size=1,
    max_size=8,
)


@pytest.fixture(scope="module")
def shared_receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver(host="127.0.0.1", grpc_port=0, http_port=None) as rx:
        yield rx


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_events)
def test_arbitrary_events_arrive_through_the_spool_exactly_as_from_memory(
    shared_receiver: OTLPReceiver,
    events: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], str | None]],
) -> None:
    received = []
    for spooled in (False, True):
        shared_receiver.clear()
        with tempfile.TemporaryDirectory() as directory:
            t = Telemetry(
                exporter=OTLPExporter(endpoint=shared_receiver.grpc_endpoint, protocol="grpc"),
                delivery=otel_telemetry.DeliverySettings(
                    schedule_delay_s=0.01,
                    spool=otel_telemetry.SpoolSettings(Path(directory)) if spooled else None,
                    event_ids=False,
                ),
                privacy=otel_telemetry.PrivacySettings(project_id="property-project"),
            )
            try:
                for name, event_props, user_props, group_props, user_id in events:
                    t.send(
                        name,
                        {
                            "eventProperties": event_props,
                            "userProperties": user_props,
                            "groupProperties": group_props,
                        },
                        user_id=user_id,
                    )
                assert t.flush(10.0)
            finally:
                t.shutdown(5.0)
        assert shared_receiver.wait_for(len(events), timeout=10.0)
        received.append(
            [
                (r.event_name, r.attributes, r.resource, r.body, r.time_unix_nano > 0)
                for r in shared_receiver.records
            ]
        )
    assert received[0] == received[1]
