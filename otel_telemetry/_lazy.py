"""Names a package exports but loads on first use (PEP 562), to keep ``import`` cheap."""

from __future__ import annotations

import importlib
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # (``typing`` costs a few ms: this module is loaded by ``import otel_telemetry``)
    from collections.abc import Callable, Mapping
    from typing import Any


def lazy_names(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``names`` maps each name to its (relative) module."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        imported = importlib.import_module(module, package)
        # a name that is the module itself (``otel_telemetry.consent``), else a name in it
        value = imported if module.rsplit(".", 1)[-1] == name else getattr(imported, name)
        setattr(sys.modules[package], name, value)  # next time: a plain attribute
        return value

    return __getattr__
