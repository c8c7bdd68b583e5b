"""The viewer under idle connections: latency and threads of `serve`'s web page, 0 vs N idle sockets.

    python -m benchmarks.web_idle            # 500 idle connections, 300 requests per case
    python -m benchmarks.web_idle --idle 2000

Runs the real `otel-telemetry serve` in a child process, then for each case (the baseline with no
idle connection, then with ``--idle`` connections held open, half of them stalled in the middle of
a request head) times ``GET /api/names`` on one kept-alive connection and counts the child's
threads (``/proc/PID/task``). Prints medians and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests


def start_serve(db: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "otel_telemetry", "serve", "--grpc-port", "0", "--http-port", "0",
         "--web-port", "0", "--db", str(db)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    banner = ""
    assert proc.stderr is not None
    while "Ctrl-C" not in banner:
        line = proc.stderr.readline()
        if not line:
            raise SystemExit(f"serve did not start: {banner}")
        banner += line
    found = re.search(r"web page\s+http://[^:]+:(\d+)/", banner)
    assert found, banner
    return proc, int(found[1])


def measure(port: int, pid: int, requests_n: int) -> tuple[float, int]:
    """Median seconds of one GET on a kept-alive connection, and the child's thread count."""
    times = []
    with requests.Session() as session:
        url = f"http://127.0.0.1:{port}/api/names"
        session.get(url, timeout=30).raise_for_status()
        for _ in range(requests_n):
            start = time.perf_counter()
            session.get(url, timeout=30).raise_for_status()
            times.append(time.perf_counter() - start)
    return statistics.median(times), len(os.listdir(f"/proc/{pid}/task"))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idle", type=int, default=500, help="idle connections held open (default 500)")
    parser.add_argument("-n", type=int, default=300, help="timed requests per case (default 300)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_serve(Path(tmp) / "events.db")
        idle: list[socket.socket] = []
        try:
            base, base_threads = measure(port, proc.pid, args.n)
            for i in range(args.idle):
                conn = socket.create_connection(("127.0.0.1", port), timeout=30)
                if i % 2:
                    conn.sendall(b"GET /api/events HTTP/1.1\r\nHost: localhost\r\n")
                idle.append(conn)
            loaded, loaded_threads = measure(port, proc.pid, args.n)
        finally:
            for conn in idle:
                conn.close()
            proc.terminate()
            proc.wait(30)
    print("| case | median GET /api/names | ratio | threads of serve |")
    print("| --- | --- | --- | --- |")
    print(f"| no idle connection (baseline) | {base * 1e3:.2f} ms | 1.00 | {base_threads} |")
    print(
        f"| {args.idle} idle connections | {loaded * 1e3:.2f} ms | {loaded / base:.2f} | {loaded_threads} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
