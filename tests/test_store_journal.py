"""The chDB store's write-ahead journal (otel_telemetry/store/journal.py), on real files: what is
appended comes back in order exactly once across segments, restarts without a clean close and
torn writes, and the checkpoint only ever moves forward. Pure logic: no chDB here."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from otel_telemetry.spool.frames import encode_frame
from otel_telemetry.store.journal import CHECKPOINT, Journal

# An operation: append a payload, store the next batch, reopen after a crash, or a crash in the
# middle of an append (a torn frame at the end of the last segment, never acknowledged).
operations = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.binary(min_size=1, max_size=300), st.integers(1, 5)),
        st.tuples(st.just("store"), st.integers(1, 12), st.integers(1, 900)),
        st.tuples(st.just("crash"), st.booleans(), st.integers(1, 200)),
    ),
    max_size=40,
)


@settings(max_examples=120, deadline=None)
@given(ops=operations, segment_bytes=st.integers(16, 1200))
def test_every_appended_frame_is_stored_once_in_order_across_crashes(
    ops: list[tuple[str, object, int]], segment_bytes: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "journal"
        journal = Journal(directory, segment_bytes)
        appended: list[tuple[bytes, int]] = []  # acknowledged: append returned
        stored: list[tuple[bytes, int]] = []
        for op, a, b in ops:
            if op == "append":
                assert isinstance(a, bytes)
                journal.append(a, b)
                appended.append((a, b))
            elif op == "store":
                assert isinstance(a, int)
                batch = journal.read_batch(a, b)
                if batch is None:
                    assert journal.stored == journal.end
                    continue
                assert not batch.damage
                assert batch.frames and (batch.rows <= a or len(batch.frames) == 1)
                stored += [(frame.payload, frame.records) for frame in batch.frames]
                journal.commit(batch.end)
            else:  # kill -9: no close; maybe in the middle of writing a frame
                if a and journal._segments:
                    torn = encode_frame(b"x" * b, 1)[: max(1, b // 2)]
                    with open(journal._segments[-1].path, "ab") as handle:
                        handle.write(torn)
                journal = Journal(directory, segment_bytes)
        while (batch := journal.read_batch(7, 500)) is not None:
            assert batch.end > journal.stored  # progress
            stored += [(frame.payload, frame.records) for frame in batch.frames]
            journal.commit(batch.end)
        assert stored == appended
        journal.close()
        assert not list(directory.glob("*.journal"))  # all stored: the segments are gone
        assert json.loads((directory / CHECKPOINT).read_text())["stored"] == journal.end


def test_a_batch_begun_is_remembered_until_committed(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append(b'{"a":1}', 1)
    journal.append(b'{"a":2}', 1)
    batch = journal.read_batch(10, 1000)
    assert batch is not None and batch.payload == b'{"a":1}\n{"a":2}'
    journal.begin(batch, count_before=5)
    reopened = Journal(tmp_path)  # a crash during the INSERT
    assert reopened.in_flight is not None and vars(reopened.in_flight) == {
        "start": 0,
        "end": batch.end,
        "rows": 2,
        "count_before": 5,
    }
    again = reopened.read_batch(2, 2**40, until=reopened.in_flight.end)
    assert again is not None and again.payload == batch.payload
    assert reopened.token(again.start, again.end) == journal.token(batch.start, batch.end)
    reopened.commit(again.end)
    assert Journal(tmp_path).in_flight is None and Journal(tmp_path).stored == batch.end


def test_tokens_differ_between_journals(tmp_path: Path) -> None:
    """A journal removed by hand starts afresh at position 0: its tokens must not repeat the old
    one's, or chDB would skip new rows as duplicates."""
    first = Journal(tmp_path / "a").token(0, 10)
    assert first != Journal(tmp_path / "b").token(0, 10)
