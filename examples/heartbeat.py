"""Strapi's daily `ping`: a heartbeat showing the installation is alive.

In an app: `Heartbeat(properties=lambda: {...}).start()` once at startup (the default interval is a
day). This script beats a few times quickly so you can watch it: `--interval 1 --beats 3`.
"""

from __future__ import annotations

import argparse
import time

import otel_telemetry
from otel_telemetry.integrations import Heartbeat


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=float, default=86_400.0, help="seconds between pings")
    parser.add_argument("--beats", type=int, default=1, help="exit after this many pings")
    args = parser.parse_args()
    started = time.time()
    heartbeat = Heartbeat(
        interval_s=args.interval,
        properties=lambda: {"eventProperties": {"uptimeS": round(time.time() - started), "contentTypes": 4}},
    ).start()
    while heartbeat.beats < args.beats:
        time.sleep(0.02)
    heartbeat.stop()
    return 0 if otel_telemetry.flush(10) else 1


if __name__ == "__main__":
    raise SystemExit(main())
