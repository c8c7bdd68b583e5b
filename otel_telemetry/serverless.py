"""Short-lived and serverless runs: deliver before the runtime freezes the process.

AWS Lambda, Cloud Functions and the like freeze (or kill) the process as soon as the handler
returns: the export thread never gets to run, and a process thawed later may be killed instead.
A cron job that ends through ``os._exit`` skips ``atexit``. :func:`flushing` delivers what the
block or function sent before it returns, waiting at most ``timeout_s``::

    @otel_telemetry.flushing()
    def handler(event, context):
        otel_telemetry.send("didHandleEvent", {...})
        return {...}

    with otel_telemetry.flushing(timeout_s=1.0):
        run_job()
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from . import _deferred
from .telemetry import Telemetry, _instances

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_TIMEOUT_S = 2.0


class flushing:
    """Context manager and decorator (sync or ``async def``): flush when the block returns.

    ``telemetry``: the sender to flush (default: every live one, the module-level default
    included). ``timeout_s`` bounds the wait for all of them together; events it cuts off stay
    queued (a thawed process may still send them). The block's exceptions propagate unchanged,
    after the flush. ``last_ok`` tells whether the last flush delivered everything.
    """

    def __init__(self, telemetry: Telemetry | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.telemetry = telemetry
        self.timeout_s = timeout_s
        self.last_ok: bool | None = None

    def flush(self) -> bool:
        """Flush now, within ``timeout_s`` overall; True when everything was exported."""
        deadline = time.monotonic() + self.timeout_s
        if self.telemetry is None and _deferred.pending():  # the module-level send()'s events
            _deferred.materialize()  # waiting aside (docs/short-lived.md): given to the default
        targets = [self.telemetry] if self.telemetry is not None else list(_instances)
        ok = True
        for telemetry in targets:
            ok = telemetry.flush(max(deadline - time.monotonic(), 0.0)) and ok
        self.last_ok = ok
        return ok

    def __enter__(self) -> flushing:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.flush()

    async def __aenter__(self) -> flushing:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.flush)

    def __call__(self, function: F) -> F:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with self:
                    return await function(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
