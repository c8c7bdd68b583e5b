"""The optional parts of otel-telemetry (pip extras) and the message that says how to install one.

The base install is what ``send()`` needs. The command line needs click (``[cli]``); a YAML event
catalog needs PyYAML (``[catalog]``). Code that imports one of those says which extra brings it,
instead of failing with a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

#: Top-level module -> (the distribution that provides it, the extra that installs it).
EXTRA_OF_MODULE = {"click": ("click", "cli"), "yaml": ("PyYAML", "catalog")}


def install_hint(extra: str) -> str:
    """``pip install 'otel-telemetry[cli]'``: the command that adds ``extra``."""
    return f"pip install 'otel-telemetry[{extra}]'"


def needs_extra(what: str, module: str) -> str:
    """One line: ``what`` needs ``module``'s distribution, and the extra that brings it."""
    distribution, extra = EXTRA_OF_MODULE[module]
    return f"{what} needs {distribution}, from the [{extra}] extra: {install_hint(extra)}"
