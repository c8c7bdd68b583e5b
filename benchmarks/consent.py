"""What the consent check costs the caller: ``python -m benchmarks.consent [--baseline DIR]``.

``send()`` now asks the consent gate first (a monotonic clock read, and at most once a second a
``stat`` of the app's ``consent.json``) and checks for sampling and default properties. This
measures the caller's µs per ``send()`` of the representative event (``benchmarks.payload``)
with this tree and with a baseline tree (default: ``/work/main``, the code without these
checks), in alternating child processes of the same run, each a median of bursts of ``n``
calls after a warm-up, the worker exporting to a no-op exporter. It also times the pieces:
the gate's cached answer, its once-a-second refresh, a sampled-out ``send()`` and a
``send()`` while the user has turned telemetry off.

    python -m benchmarks.consent -n 20000 --rounds 7
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, os, sys, time, timeit
from benchmarks import payload as p
import otel_telemetry
from otel_telemetry import Exporter, ExportResult, Telemetry

class Null(Exporter):
    def export(self, request, timeout_s):
        return ExportResult(True)

n, bursts = int(sys.argv[1]), int(sys.argv[2])
t = Telemetry("bench", exporter=Null())
for _ in range(2000):
    t.send(p.EVENT_NAME, p.PAYLOAD)
t.flush(60)
samples = []
for _ in range(bursts):
    start = time.perf_counter()
    for _ in range(n):
        t.send(p.EVENT_NAME, p.PAYLOAD)
    samples.append((time.perf_counter() - start) / n * 1e6)
    t.flush(60)
out = {"send_us": min(samples), "file": otel_telemetry.__file__}
gate = getattr(t, "_gate", None)
if gate is not None:
    number = 200_000
    mono = time.monotonic
    check = lambda: gate.allowed_now if mono() < gate.next_check else gate.refresh()  # as send() inlines it
    empty = lambda: True
    best = lambda f: min(timeit.repeat(f, number=number, repeat=7))
    out["gate_cached_ns"] = (best(check) - best(empty)) / number * 1e9
    out["gate_refresh_us"] = min(timeit.repeat(gate.refresh, number=2000, repeat=5)) / 2000 * 1e6
    from otel_telemetry import RecordSettings, SamplingSettings
    rates = SamplingSettings({p.EVENT_NAME: 0.000001}, seed=1)
    s = Telemetry("bench-sampled", exporter=Null(), records=RecordSettings(sampling=rates))
    out["sampled_out_send_us"] = min(
        timeit.repeat(lambda: s.send(p.EVENT_NAME, p.PAYLOAD), number=n, repeat=5)) / n * 1e6
    from otel_telemetry import consent
    consent.disable("bench-off")
    off = Telemetry("bench-off", exporter=Null())
    out["opted_out_send_us"] = min(
        timeit.repeat(lambda: off.send(p.EVENT_NAME, p.PAYLOAD), number=n, repeat=5)) / n * 1e6
t.shutdown(10)
print(json.dumps(out))
"""


def run_child(tree: Path, n: int, bursts: int, state_dir: str) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "DO_NOT_TRACK"))}
    env.update(PYTHONPATH=f"{tree}{os.pathsep}{HERE}", OTEL_TELEMETRY_STATE_DIR=state_dir)
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(n), str(bursts)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        cwd=state_dir,  # not a tree: `-c` puts the working directory first on sys.path
    )
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    if not data["file"].startswith(str(tree)):
        raise SystemExit(f"the child imported {data['file']}, not the tree {tree}")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="calls per burst")
    parser.add_argument("--bursts", type=int, default=5, help="bursts per child (its median is kept)")
    parser.add_argument("--rounds", type=int, default=7, help="child pairs, alternating the trees")
    parser.add_argument("--baseline", type=Path, default=Path("/work/main"), help="tree without the checks")
    args = parser.parse_args(argv)
    trees = {"baseline": args.baseline.resolve(), "this tree": HERE}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory() as state:
        for index in range(args.rounds):
            order = list(trees.items()) if index % 2 == 0 else list(reversed(trees.items()))
            for name, tree in order:
                results[name].append(run_child(tree, args.n, args.bursts, state))
    base = statistics.median(r["send_us"] for r in results["baseline"])
    ours = statistics.median(r["send_us"] for r in results["this tree"])
    ratios = [
        o["send_us"] / b["send_us"] for o, b in zip(results["this tree"], results["baseline"], strict=True)
    ]
    print(
        f"send() caller cost: per child the best of {args.bursts} bursts of {args.n} calls; "
        f"{args.rounds} children per tree"
    )
    for name, tree in trees.items():
        values = sorted(r["send_us"] for r in results[name])
        print(
            f"  {name} ({tree}): median {statistics.median(values):.3f} µs, "
            f"children {values[0]:.3f}-{values[-1]:.3f}"
        )
    print(f"  ratio of medians this/baseline: {ours / base:.3f}")
    print(
        f"  median of the {len(ratios)} paired ratios (children run back to back): "
        f"{statistics.median(ratios):.3f}"
    )
    rows = results["this tree"]
    for key, unit, label in (
        ("gate_cached_ns", "ns", "consent check as send() inlines it, over an empty lambda (every send)"),
        ("gate_refresh_us", "µs", "consent gate, refresh: stat of consent.json (at most once a second)"),
        ("sampled_out_send_us", "µs", "send() of a sampled-out event"),
        ("opted_out_send_us", "µs", "send() while the user turned telemetry off"),
    ):
        print(f"  {label}: {statistics.median(r[key] for r in rows):.3f} {unit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
