"""The ``otel-telemetry`` console script: the click command line when the ``[cli]`` extra is there.

Without it (a plain ``pip install otel-telemetry`` brings only what ``send()`` needs), the script
prints one line saying how to install the extra, rather than a traceback. The same goes for a
command that needs another extra's module (a YAML catalog without PyYAML).
"""

from __future__ import annotations

import sys

from .extras import EXTRA_OF_MODULE, needs_extra


def main() -> None:
    """Run ``otel-telemetry``; exit 1 with one line on stderr when an extra it needs is missing."""
    try:
        from .cli import main as cli_main

        cli_main(prog_name="otel-telemetry")
    except ModuleNotFoundError as error:
        module = (error.name or "").partition(".")[0]
        if module not in EXTRA_OF_MODULE:
            raise
        what = "the otel-telemetry command line" if module == "click" else "this command"
        sys.exit(f"otel-telemetry: {needs_extra(what, module)}")
