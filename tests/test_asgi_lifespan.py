"""The ASGI middleware delivers at the server's ``lifespan`` shutdown, before the server hears
the answer (uvicorn then dies of its re-raised SIGTERM), for apps with and without lifespan
support of their own; the app's lifespan messages pass through unchanged."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from otel_telemetry import DeliverySettings, OTLPExporter, Telemetry
from otel_telemetry.integrations import TelemetryASGIMiddleware
from otel_telemetry.receiver import OTLPReceiver


async def app_with_lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "lifespan"
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete", "note": "the app's own"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete", "note": "the app's own"})
            return


async def app_without_lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise RuntimeError("only http")


async def app_that_reads_then_gives_up(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()  # takes the startup message, never answers it


def _run_lifespan(app: Any, receiver: OTLPReceiver, telemetry: Telemetry) -> list[tuple[str, int]]:
    """Drive startup and shutdown as a server does; note how many records had arrived at each answer."""
    answers: list[tuple[str, int]] = []

    async def main() -> None:
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for kind in ("lifespan.startup", "lifespan.shutdown"):
            inbox.put_nowait({"type": kind})

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.complete":
                for i in range(20):  # sent while serving: still queued at shutdown
                    telemetry.send("job", {"eventProperties": {"i": i}})
            answers.append((message["type"], len(receiver.records)))
            if "note" in message:
                answers.append(("note", 0))

        await TelemetryASGIMiddleware(app, telemetry=telemetry)(
            {"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send
        )

    asyncio.run(asyncio.wait_for(main(), 30))
    return answers


@pytest.mark.parametrize("app", [app_with_lifespan, app_without_lifespan, app_that_reads_then_gives_up])
def test_the_lifespan_shutdown_answer_comes_after_delivery(receiver: OTLPReceiver, app: Any) -> None:
    telemetry = Telemetry(
        exporter=OTLPExporter(endpoint=receiver.grpc_endpoint, protocol="grpc"),
        delivery=DeliverySettings(schedule_delay_s=30),
    )
    try:
        answers = _run_lifespan(app, receiver, telemetry)
    finally:
        telemetry.shutdown(5)
    kinds = [kind for kind, _ in answers if kind != "note"]
    assert kinds == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert dict(answers)["lifespan.shutdown.complete"] == 20
    assert ("note", 0) in answers if app is app_with_lifespan else ("note", 0) not in answers
