"""Run the benchmarks and write ``RESULTS.md``, ``results.json`` and ``caller_cost.png``.

    python -m benchmarks                 # full run (a few minutes on 2 cores)
    python -m benchmarks --quick         # smoke run: small N, 2 repeats
    python -m benchmarks -n 20000 --only caller,e2e

Every system runs in its own child process (``benchmarks/child.py``); the receivers run
here, in the parent, so they do not share a GIL with the system being measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # ``python benchmarks/run.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.report import Report, write_chart, write_markdown
from benchmarks.sinks import CountingReceiver, HttpSink
from benchmarks.stats import Summary
from benchmarks.systems import SYSTEMS, version

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("caller", "e2e", "memory", "steps", "scaling")
CHILD_TIMEOUT_S = 900.0

#: (key, system, options) of the caller-cost comparison, in display order.
CALLER_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("floor", "floor", {}),
    ("ours-grpc", "otel-telemetry", {"protocol": "grpc"}),
    ("ours-http", "otel-telemetry", {"protocol": "http/protobuf"}),
    ("ours-provider", "otel-telemetry-provider", {"protocol": "grpc"}),
    ("sdk-emit", "sdk-emit", {}),
    ("sdk-grpc", "sdk", {"protocol": "grpc"}),
    ("sdk-http", "sdk", {"protocol": "http/protobuf"}),
    ("segment", "segment", {}),
    ("posthog", "posthog", {}),
    ("amplitude", "amplitude", {}),
]

STEP_VARIANTS = [
    ("baseline", "default: event + user properties"),
    ("group-same", "+ group properties (same every call: one cached resource)"),
    ("event-varying", "default, with event properties varying per call (no two events alike)"),
    ("group-varying", "+ group properties varying per call (a new resource each call)"),
    ("pii-hash", "+ PII hashing (user_id -> user.hash, a new id each call)"),
    ("catalog", "+ catalog validation"),
    ("spool", "+ spool (events written to disk first; default async, fsync every second)"),
]


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(state_dir: str) -> dict[str, str]:
    """The parent's environment without OTEL_* settings, with a private state directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DO_NOT_TRACK"))}
    env["OTEL_TELEMETRY_STATE_DIR"] = state_dir
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


class Runner:
    """Starts children against the receivers held by the parent, and collects their results."""

    def __init__(
        self, args: argparse.Namespace, receiver: CountingReceiver, sink: HttpSink, env: dict[str, str]
    ) -> None:
        self.args = args
        self.receiver = receiver
        self.sink = sink
        self.env = env
        self.report = Report()

    def spec(self, system: str, options: dict[str, Any] | None = None, **endpoints: str) -> dict[str, Any]:
        fields = {
            "system": system,
            "grpc_endpoint": self.receiver.grpc_endpoint,
            "http_endpoint": self.receiver.http_endpoint,
            "sink_url": self.sink.url,
            "options": options or {},
        }
        fields.update(endpoints)
        return fields

    def child(self, task: dict[str, Any]) -> dict[str, Any]:
        """Run one child task; its JSON result, or ``{"error": ...}``."""
        try:
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.child", json.dumps(task)],
                cwd=ROOT,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=CHILD_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {CHILD_TIMEOUT_S:.0f} s"}
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return {"error": f"exit {done.returncode}: {' | '.join(tail)}"}
        result: dict[str, Any] = json.loads(lines[-1])
        return result

    def log(self, message: str) -> None:
        if not self.args.silent:
            print(message, file=sys.stderr, flush=True)

    # -- 1. caller cost ------------------------------------------------------------------
    def caller(self) -> None:
        a = self.args
        for key, system, options in CALLER_CASES:
            label = SYSTEMS[system][0]
            if key.endswith(("-grpc", "-http")) or key == "ours-provider":
                label += " (gRPC)" if "grpc" in key or key == "ours-provider" else " (HTTP/protobuf)"
            self.log(f"caller: {label}")
            result = self.child(
                {"kind": "caller", "spec": self.spec(system, options), "n": a.caller_n, "repeats": a.repeats}
            )
            self.report.caller.append(self._row(key, label, SYSTEMS[system][1], result, "us"))

    def _row(self, key: str, label: str, package: str, result: dict[str, Any], field: str) -> dict[str, Any]:
        shown = version(package) if package else platform.python_version()
        row: dict[str, Any] = {"key": key, "label": label, "version": shown}
        if "not_installed" in result:
            row["status"] = "not installed"
        elif "error" in result:
            row["status"] = "error: " + result["error"]
        else:
            row["summary"] = asdict(Summary.of(result[field]))
            row["raw"] = result
        return row

    # -- 2. end to end -------------------------------------------------------------------
    def e2e(self) -> None:
        a = self.args
        from benchmarks.child import WARMUP

        distinct = {"distinct": a.n + WARMUP}
        cases: list[tuple[str, str, str, str, dict[str, Any]]] = [
            ("ours-grpc", "otel-telemetry", "grpc", "counting", {}),
            ("sdk-grpc", "sdk", "grpc", "counting", {}),
            ("ours-http", "otel-telemetry", "http/protobuf", "counting", {}),
            ("sdk-http", "sdk", "http/protobuf", "counting", {}),
            ("ours-grpc-distinct", "otel-telemetry", "grpc", "counting", distinct),
            ("ours-grpc-full", "otel-telemetry", "grpc", "full", {}),
            ("ours-http-full", "otel-telemetry", "http/protobuf", "full", {}),
        ]
        for key, system, protocol, receiver, options in cases:
            label = f"{SYSTEMS[system][0]} ({'gRPC' if protocol == 'grpc' else 'HTTP/protobuf'})"
            if options.get("distinct"):
                label += ", no two events alike,"
            label += " -> OTLPReceiver (full decode)" if receiver == "full" else " -> counting receiver"
            self.log(f"e2e: {label}")
            runs = [self._e2e_once(system, protocol, receiver, options) for _ in range(a.e2e_repeats)]
            row: dict[str, Any] = {"key": key, "label": label, "runs": runs}
            row["version"] = version(SYSTEMS[system][1])
            errors = [r["error"] for r in runs if "error" in r]
            if errors:
                row["status"] = "error: " + errors[0]
            else:
                row["delivered_worst"] = min(r["delivered"] for r in runs)
                row["n"] = a.n
                complete = [r["eps"] for r in runs if r["delivered"] == a.n]
                if len(complete) == len(runs):
                    row["summary"] = asdict(Summary.of(complete))
                    row["caller_summary"] = asdict(Summary.of([r["caller_us"] for r in runs]))
                else:
                    row["status"] = f"LOST events: delivered {row['delivered_worst']:,} of {a.n:,}"
            self.report.e2e.append(row)

    def _e2e_once(
        self, system: str, protocol: str, receiver_kind: str, options: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        from benchmarks.child import WARMUP

        n = self.args.n
        target = WARMUP + n
        if receiver_kind == "full":
            from otel_telemetry.receiver import OTLPReceiver

            with OTLPReceiver(host="127.0.0.1", grpc_port=0, http_port=0) as rx:
                endpoints = {"grpc_endpoint": rx.grpc_endpoint, "http_endpoint": rx.http_endpoint}
                spec = self.spec(system, {"protocol": protocol, **(options or {})}, **endpoints)
                result = self.child({"kind": "e2e", "spec": spec, "n": n})
                if "error" in result:
                    return result
                reached = rx.wait_for(target, 60.0)
                reached_at = time.monotonic()
                delivered = len(rx.records) - WARMUP
                if not reached:
                    reached_at = float("nan")
        else:
            counter = self.receiver.counter
            counter.reset(target)
            result = self.child(
                {"kind": "e2e", "spec": self.spec(system, {"protocol": protocol, **(options or {})}), "n": n}
            )
            if "error" in result:
                return result
            counter.wait(target, 10.0)
            delivered = counter.records - WARMUP
            reached_at = counter.reached_at if counter.reached_at is not None else float("nan")
        elapsed = reached_at - result["started"]
        out = {
            "delivered": delivered,
            "elapsed_s": elapsed,
            "eps": n / elapsed if delivered >= n else None,
            "caller_us": result["caller_s"] / n * 1e6,
            "flushed": result["flushed"],
        }
        if "dropped" in result:
            out["dropped"] = result["dropped"]
        return out

    # -- 3. memory ---------------------------------------------------------------------
    def memory(self) -> None:
        a = self.args
        down = f"http://127.0.0.1:{closed_port()}"
        cases = [
            ("ours-burst", "otel-telemetry", "burst", a.n, {}),
            ("ours-paced-quarter", "otel-telemetry", "paced", a.n // 4, {}),
            ("ours-paced", "otel-telemetry", "paced", a.n, {}),
            ("ours-down", "otel-telemetry", "down", a.n, {"grpc_endpoint": down}),
            ("sdk-burst", "sdk", "burst", a.n, {}),
            ("sdk-down", "sdk", "down", a.n, {"grpc_endpoint": down}),
        ]
        for key, system, mode, n, endpoints in cases:
            label = f"{SYSTEMS[system][0].split(' (')[0]} (gRPC), {mode}, N={n:,}"
            self.log(f"memory: {label}")
            spec = self.spec(system, {"protocol": "grpc"}, **endpoints)
            task = {"kind": "memory", "spec": spec, "n": n, "mode": mode}
            runs = [self.child(task) for _ in range(a.memory_repeats)]
            row: dict[str, Any] = {"key": key, "label": label, "mode": mode, "n": n, "runs": runs}
            errors = [r["error"] for r in runs if "error" in r]
            if errors:
                row["status"] = "error: " + errors[0]
            else:
                field = "rss_delta_kib" if mode == "down" else "peak_delta_kib"
                values = [r[field] for r in runs if r.get(field) is not None]
                if values:
                    row["summary"] = asdict(Summary.of([v / 1024 for v in values]))
                    row["bytes_per_event"] = asdict(Summary.of([v * 1024 / n for v in values]))
                    row["measure"] = "RSS growth" if mode == "down" else "peak RSS growth"
                else:
                    row["status"] = "peak RSS not measurable here (/proc/self/clear_refs)"
            self.report.memory.append(row)

    # -- 4. optional steps -------------------------------------------------------------
    def steps(self) -> None:
        a = self.args
        available = _optional_features()
        for variant, label in STEP_VARIANTS:
            self.log(f"steps: {label}")
            if variant in ("catalog", "spool") and variant not in available:
                self.report.steps.append({"key": variant, "label": label, "status": "not available"})
                continue
            result = self.child(
                {
                    "kind": "steps",
                    "spec": self.spec("otel-telemetry"),
                    "n": a.caller_n,
                    "repeats": a.repeats,
                    "variant": variant,
                }
            )
            row = self._row(variant, label, "otel-telemetry", result, "caller_us")
            if "raw" in row:
                row["worker_summary"] = asdict(Summary.of(result["worker_us"]))
            self.report.steps.append(row)

    # -- 5. scaling --------------------------------------------------------------------
    def scaling(self) -> None:
        a = self.args
        for key, system in (("ours-grpc", "otel-telemetry"), ("sdk-grpc", "sdk")):
            for threads in (1, 2, 4, 8):
                label = f"{SYSTEMS[system][0].split(' (')[0]} (gRPC)"
                self.log(f"scaling: {label}, {threads} thread(s)")
                result = self.child(
                    {
                        "kind": "scaling",
                        "spec": self.spec(system, {"protocol": "grpc"}),
                        "n": a.caller_n,
                        "repeats": a.repeats,
                        "threads": threads,
                    }
                )
                row = self._row(key, label, SYSTEMS[system][1], result, "us")
                row["threads"] = threads
                self.report.scaling.append(row)


def _optional_features() -> set[str]:
    """Optional steps whose ``Telemetry`` argument exists (others' modules land over time)."""
    import inspect

    from otel_telemetry import Telemetry

    parameters = inspect.signature(Telemetry.__init__).parameters
    return {
        name for name, argument in (("catalog", "catalog"), ("spool", "spool_dir")) if argument in parameters
    }


def machine() -> dict[str, Any]:
    """CPU, memory, OS, Python and library versions of this run."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            memory = f"{int(info.readline().split()[1]) / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    packages = [
        "otel-telemetry",
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-grpc",
        "opentelemetry-exporter-otlp-proto-http",
        "grpcio",
        "protobuf",
        "requests",
        "segment-analytics-python",
        "posthog",
        "amplitude-analytics",
    ]
    try:
        # refresh the index first: files rewritten with the same content are not changes
        subprocess.run(["git", "update-index", "-q", "--refresh"], cwd=ROOT, capture_output=True, timeout=10)
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "commit": commit or "unknown",
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": {name: version(name) for name in packages},
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small N and 2 repeats: a smoke run")
    parser.add_argument("-n", "--events", dest="n", type=int, help="events per e2e/memory run (100000)")
    parser.add_argument("--caller-n", type=int, help="calls per caller-cost repeat (20000)")
    parser.add_argument("--repeats", type=int, help="repeats of each caller-cost figure (5)")
    parser.add_argument("--e2e-repeats", type=int, help="repeats of each end-to-end figure (3)")
    parser.add_argument("--memory-repeats", type=int, help="repeats of each memory figure (3)")
    parser.add_argument("--only", help=f"comma-separated sections to run, of {','.join(SECTIONS)}")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks", help="where RESULTS.md etc. go")
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG chart")
    parser.add_argument("--silent", action="store_true", help="no progress lines on stderr")
    parser.add_argument(
        "--render", type=Path, metavar="RESULTS_JSON", help="only re-render RESULTS.md and the chart"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.n = args.n or (2_000 if quick else 100_000)
    args.caller_n = args.caller_n or (min(args.n, 2_000) if quick else 20_000)
    args.repeats = args.repeats or (2 if quick else 5)
    args.e2e_repeats = args.e2e_repeats or (1 if quick else 3)
    args.memory_repeats = args.memory_repeats or (1 if quick else 3)
    args.sections = tuple(s.strip() for s in args.only.split(",")) if args.only else SECTIONS
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    return args


def render(args: argparse.Namespace) -> int:
    """Re-render the Markdown and the chart of a saved ``results.json`` into ``--out``."""
    report = Report(**json.loads(args.render.read_text(encoding="utf-8")))
    args.out.mkdir(parents=True, exist_ok=True)
    chart = None if args.no_chart else write_chart(report, args.out / "caller_cost.png")
    write_markdown(report, args.out / "RESULTS.md", chart)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render is not None:
        return render(args)
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="otel-telemetry-bench-") as state,
        CountingReceiver() as receiver,
        HttpSink() as sink,
    ):
        runner = Runner(args, receiver, sink, child_env(state))
        runner.report.machine = machine()
        runner.report.settings = {
            "n": args.n,
            "caller_n": args.caller_n,
            "repeats": args.repeats,
            "e2e_repeats": args.e2e_repeats,
            "memory_repeats": args.memory_repeats,
            "sections": list(args.sections),
            "command": " ".join(["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])]),
        }
        sections: dict[str, Callable[[], None]] = {
            "caller": runner.caller,
            "e2e": runner.e2e,
            "memory": runner.memory,
            "steps": runner.steps,
            "scaling": runner.scaling,
        }
        for name in args.sections:
            sections[name]()
        runner.report.settings["wall_s"] = round(time.monotonic() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    report = runner.report
    (args.out / "results.json").write_text(json.dumps(asdict(report), indent=1) + "\n", encoding="utf-8")
    chart = None
    if not args.no_chart and report.caller:
        chart = write_chart(report, args.out / "caller_cost.png")
    markdown = write_markdown(report, args.out / "RESULTS.md", chart)
    if not args.silent:
        print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
