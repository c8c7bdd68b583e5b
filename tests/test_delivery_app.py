"""A small app run as a real subprocess by the delivery and fault tests (it holds no tests).

``python tests/test_delivery_app.py '<json config>'``; modes:

- ``send``: send ``count`` events (``eventProperties.seq``, ``.proc``), printing ``sent <seq>``
  after each ``send()`` returned True; then shut down and print ``stats <json>``.
- ``idle``: create the Telemetry (with its spool), wait until the spool of earlier processes is
  delivered (or ``wait_s``), shut down, print ``stats <json>``.
- ``overload``: send as fast as possible for ``duration_s`` after the first batch was exported,
  printing ``rss <kB> <sent> <exported>`` every ``sample_s``; then print ``stats <json>``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from typing import Any


def rss_kb() -> int:
    """Resident set size of this process, from /proc."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main(config: dict[str, Any]) -> None:
    """``config["options"]``: ``endpoint``, ``protocol`` (the exporter's), ``batch`` and
    ``delivery`` (both ``DeliverySettings`` fields, the queue's and the rest; ``backoff`` as
    ``[initial_s, max_s]``, ``spool`` as ``SpoolSettings`` fields)."""
    from otel_telemetry import (
        Backoff,
        DeliverySettings,
        OTLPExporter,
        PrivacySettings,
        SpoolSettings,
        Telemetry,
    )

    options = dict(config.get("options", {}))
    options["exporter"] = OTLPExporter(
        endpoint=options.pop("endpoint", None), protocol=options.pop("protocol", None)
    )
    delivery = dict(options.pop("delivery", {}))
    if "backoff" in delivery:
        delivery["backoff"] = Backoff(*delivery["backoff"])
    if "spool" in delivery:
        delivery["spool"] = SpoolSettings(**delivery["spool"])
    telemetry = Telemetry(
        "fault-app",
        delivery=DeliverySettings(**options.pop("batch", {}), **delivery),
        privacy=PrivacySettings(project_id="fault-project"),
        **options,
    )
    mode = config["mode"]
    proc = config.get("proc", "p")
    out = sys.stdout
    if mode == "send":
        for seq in range(config["count"]):
            if telemetry.send("ev", {"eventProperties": {"seq": seq, "proc": proc}}):
                out.write(f"sent {seq}\n")
                out.flush()
            delay = config.get("delay_s", 0.0)
            if delay:
                time.sleep(delay)
    elif mode == "idle":
        deadline = time.monotonic() + config.get("wait_s", 30.0)
        while time.monotonic() < deadline:
            stats = telemetry.stats()
            if stats.recovered and not stats.spool_pending:
                break
            time.sleep(0.1)
    elif mode == "overload":
        # overload for ``duration_s`` once warm (the first batch exported: the transport and the
        # encoder are loaded, on the export thread, competing with this loop for the GIL), at
        # most ``4 * duration_s`` in all
        payload = {"eventProperties": {"seq": 0, "proc": proc, "text": "x" * 100}}
        sent = 0
        duration = config["duration_s"]
        start = time.monotonic()
        end = start + 4 * duration
        next_sample = start
        while (now := time.monotonic()) < end:
            if now >= next_sample:
                exported = telemetry.stats().exported
                if exported and end == start + 4 * duration:
                    end = min(end, now + duration)
                out.write(f"rss {rss_kb()} {sent} {exported}\n")
                out.flush()
                next_sample = now + config.get("sample_s", 0.25)
            for _ in range(100):
                telemetry.send("ev", payload)
                sent += 1
        out.write(f"rss {rss_kb()} {sent} {telemetry.stats().exported}\n")
    stats_before = telemetry.stats()
    telemetry.shutdown(config.get("shutdown_s", 5.0))
    out.write(f"stats {json.dumps(dataclasses.asdict(stats_before))}\n")
    out.write(f"final {json.dumps(dataclasses.asdict(telemetry.stats()))}\n")
    out.flush()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
