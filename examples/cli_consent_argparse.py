"""An argparse tool that asks first: opt-in telemetry, nothing is sent until the user agrees.

    python examples/cli_consent_argparse.py convert notes.md   # sends nothing until enabled
    python examples/cli_consent_argparse.py telemetry enable   # the user agrees
    python examples/cli_consent_argparse.py telemetry status
    python examples/cli_consent_argparse.py telemetry show
    python examples/cli_consent_argparse.py telemetry disable

Run interactively, the first `convert` asks the question itself (and stores the answer).
Where events go comes from the standard variables (OTEL_EXPORTER_OTLP_ENDPOINT, ...).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from otel_telemetry import PrivacySettings, Telemetry, consent

APP = "acme-tool"

telemetry = Telemetry(APP, privacy=PrivacySettings(opt_in=True, sent_log=20))


def ask_once() -> None:
    """On a terminal, ask the user once; the answer is stored like `telemetry enable/disable`."""
    if not sys.stdin.isatty() or consent.status(APP, telemetry=telemetry).stored.enabled is not None:
        return
    answer = input(f"Help improve {APP} by sending anonymous usage data? [y/N] ").strip().lower()
    if answer in ("y", "yes"):
        consent.enable(APP, telemetry=telemetry, by="the first-run question")
    else:
        consent.disable(APP, telemetry=telemetry, by="the first-run question")


def convert(args: argparse.Namespace) -> int:
    ask_once()
    telemetry.send("didConvertFile", {"eventProperties": {"extension": Path(args.file).suffix or "none"}})
    print(f"converted {args.file}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=APP, description="An example tool with opt-in telemetry.")
    commands = parser.add_subparsers(dest="command", required=True)
    consent.add_argparse(commands, APP, telemetry=telemetry)  # `acme-tool telemetry ...`
    p = commands.add_parser("convert", help="convert a file")
    p.add_argument("file")
    p.set_defaults(func=convert)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
