"""Starting and ending captures: the innermost active one is what the senders record into."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .. import _capture_hook
from ._capture import Capture

_lock = threading.Lock()
_stack: list[Capture] = []
_blocked = False


def set_blocked(blocked: bool) -> None:
    """Record that the pytest session blocks export (reported by ``blocked()``)."""
    global _blocked
    _blocked = blocked


def blocked() -> bool:
    """True while a pytest session blocks telemetry export (``otel_telemetry_network = block``)."""
    return _blocked


@contextmanager
def capturing() -> Iterator[Capture]:
    """Make every sender record into a new :class:`Capture` until the block ends (nestable)."""
    capture = Capture()
    with _lock:
        _stack.append(capture)
        _capture_hook.active = capture
    try:
        yield capture
    finally:
        with _lock:
            _stack.remove(capture)
            _capture_hook.active = _stack[-1] if _stack else None
