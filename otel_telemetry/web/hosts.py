"""Which ``Host`` header values the viewer answers: its defense against DNS rebinding.

The viewer has no authentication and binds 127.0.0.1, but a hostile web page can point its own
domain at 127.0.0.1 (DNS rebinding) and then read the API as same-origin. The browser still sends
that domain in ``Host``, so only names that mean this machine are answered, plus the address
``serve`` was told to listen on and any name given with ``--web-allow-host``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
#: Addresses that mean "every interface": not a name a browser sends.
WILDCARDS = frozenset({"0.0.0.0", "::", "[::]", ""})
#: ``--web-allow-host '*'``: answer any Host (the user's explicit choice, e.g. behind a proxy).
ANY = "*"

_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[^\[\]:/@\s]+)(?::[0-9]{1,5})?")


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class HostAllowlist:
    """The host names answered; built from the listen address and the user's extra names."""

    def __init__(self, listen_host: str, extra: Iterable[str] = ()) -> None:
        names = set(LOCAL_NAMES)
        listen = _bracketed(listen_host.strip().lower())
        if listen not in WILDCARDS:
            names.add(listen)
        extras = {_bracketed(name.strip().lower().rstrip(".")) for name in extra}
        self.any = ANY in extras
        self.names = frozenset(names | (extras - {ANY}))

    def allows(self, host_header: str | None) -> bool:
        """Whether a request with this ``Host`` header (port optional) is answered."""
        if self.any:
            return True
        if host_header is None:
            return False
        match = _HOST.fullmatch(host_header.strip())
        return match is not None and match[1].lower().rstrip(".") in self.names
