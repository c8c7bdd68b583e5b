"""End users in control: the ``telemetry`` command an app mounts in its own command line.

``consent.click_group(app)`` returns a click group (typer apps add it the same way),
``consent.add_argparse(subparsers, app)`` adds the same sub-commands to an argparse parser::

    myapp telemetry status            # on or off, and why; where events go; what is collected
    myapp telemetry disable           # stored for this app; running processes stop within ~1 s
    myapp telemetry enable
    myapp telemetry show --last 20    # what this app sent recently (PrivacySettings(sent_log=N))
    myapp telemetry reset             # a new installation id

:func:`status`, :func:`enable`, :func:`disable`, :func:`reset` and :func:`show` do the same
from code. ``app`` is the app's name, the ``service.name`` its events carry. Pass
``telemetry=`` (the app's :class:`~otel_telemetry.Telemetry`, or a function returning it) so
the command knows the app's settings (state directory, opt-in, catalog, exporter); without it
they are read from the environment, as a ``Telemetry`` would read them. The environment's
opt-out variables always win: nothing stored here turns telemetry on against ``DO_NOT_TRACK``,
``OTEL_SDK_DISABLED`` or ``OTEL_TELEMETRY_DISABLED``. See ``docs/consent.md``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .consent_gate import decide
from .consent_purge import Purged, purge_spool
from .consent_store import AppState, StoredChoice
from .environment import DEFAULT_NAMES
from .errors import TelemetryError
from .identity import installation_id, privacy_state_dir, project_id
from .sent_log import read_sent
from .settings import (
    CatalogSettings,
    ExporterSettings,
    PrivacySettings,
    SpoolSettings,
    opt_out_reason,
)

if TYPE_CHECKING:
    import argparse

    import click

    from .catalog.model import Catalog
    from .telemetry import Telemetry

__all__ = [
    "ConsentChange",
    "ConsentStatus",
    "add_argparse",
    "click_group",
    "disable",
    "enable",
    "reset",
    "show",
    "status",
]

#: How long ``disable`` waits for the optional last "opted out" event to be delivered, and
#: for its own process to discard what it holds.
OPTED_OUT_FLUSH_S = 2.0


@dataclass(frozen=True)
class ConsentStatus:
    """What ``telemetry status`` says about one app."""

    app: str
    enabled: bool
    #: What decided: an environment variable, the stored choice (who, when), opt-in, the default.
    reason: str
    choice_file: Path
    stored: StoredChoice
    opt_in: bool
    #: ``app.installation.id`` as sent (``None``: not sent, ``OTEL_TELEMETRY_DISABLE_DEFAULTS``).
    installation_id: str | None
    #: Where events go (protocol and endpoint, or the app's exporter).
    destination: str
    #: What is collected: one line per event (from the catalog) or a sentence.
    collected: tuple[str, ...]
    #: The anonymous environment facts each event carries.
    facts: tuple[str, ...]
    notice: str | None = None
    sent_log: Path | None = None
    sampling: tuple[str, ...] = ()
    default_properties: tuple[str, ...] = ()
    #: Set when the environment (or the app's code) keeps telemetry off: what does.
    forced_off_by: str | None = None

    def lines(self) -> list[str]:
        """The human-readable report, a line each."""
        out = [
            f"Telemetry for {self.app} is {'ON' if self.enabled else 'OFF'}: {self.reason}.",
            f"Choice stored in: {self.choice_file}"
            + ("" if self.stored.enabled is not None else " (no choice stored yet)"),
            "Mode: "
            + ("opt-in (nothing is sent until enabled)" if self.opt_in else "opt-out (on unless disabled)"),
            f"Installation id: {self.installation_id or 'not sent'}",
            f"Events go to: {self.destination}",
            "What is collected:",
            *(f"  {line}" for line in self.collected),
            f"  with each event: {', '.join(self.facts) if self.facts else 'no environment facts'}",
        ]
        if self.default_properties:
            out.append(f"  default properties: {', '.join(self.default_properties)}")
        if self.sampling:
            out.append(f"  sampled: {', '.join(self.sampling)}")
        if self.notice:
            out.append(f"Notice shown once before the first event: {self.notice}")
        out.append(
            f"Record of sent events: {self.sent_log}" if self.sent_log else "Record of sent events: not kept"
        )
        if self.forced_off_by == "disabled=True":
            out.append("The app itself keeps telemetry off.")
        elif self.forced_off_by:
            out.append(f"Unset {self.forced_off_by.split('=')[0]} to let the stored choice decide.")
        else:
            out.append(
                "Turn it off with: telemetry disable" if self.enabled else "Turn it on with: telemetry enable"
            )
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def to_json(self) -> dict[str, Any]:
        """The status as JSON-able data (``telemetry status --json``)."""
        return {
            "app": self.app,
            "enabled": self.enabled,
            "reason": self.reason,
            "choice_file": str(self.choice_file),
            "stored": self.stored.to_json(),
            "opt_in": self.opt_in,
            "installation_id": self.installation_id,
            "destination": self.destination,
            "collected": list(self.collected),
            "facts": list(self.facts),
            "notice": self.notice,
            "sent_log": str(self.sent_log) if self.sent_log else None,
            "sampling": list(self.sampling),
            "default_properties": list(self.default_properties),
            "forced_off_by": self.forced_off_by,
        }


@dataclass(frozen=True)
class ConsentChange:
    """What ``enable`` / ``disable`` / ``reset`` did, and the status after."""

    status: ConsentStatus
    #: ``disable``: unsent events deleted from disk (running processes discard theirs).
    deleted_events: int = 0
    deleted_files: tuple[Path, ...] = ()
    #: ``disable``: spool directories of running processes (they discard their events).
    live_spools: tuple[Path, ...] = ()
    #: ``disable``: directories or batches left alone: they hold another app's events too.
    shared: tuple[Path, ...] = ()
    #: ``disable``: the app's last "opted out" event was delivered first.
    opted_out_event_sent: bool = False

    def lines(self) -> list[str]:
        return [line for line in self._summary() if line]

    def _summary(self) -> list[str]:
        s = self.status
        out = [f"Telemetry for {s.app} is now {'ON' if s.enabled else 'OFF'}: {s.reason}."]
        if s.stored.enabled is True and not s.enabled:
            out.append("Your choice is stored, but the environment keeps telemetry off.")
        if self.opted_out_event_sent:
            out.append("A last event saying that telemetry was turned off was sent first.")
        if self.deleted_events or self.deleted_files:
            out.append(f"Deleted {self.deleted_events} unsent event(s).")
        if self.live_spools:
            out.append(
                f"{len(self.live_spools)} running process(es) of {s.app} discard their unsent events "
                "themselves within a few seconds."
            )
        for path in self.shared:
            out.append(f"Left alone (holds another app's events too): {path}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


# -- the app's settings, from its Telemetry or from the environment ------------------------------


@dataclass
class _App:
    """One app's consent view: its state files and the settings the commands report."""

    name: str
    state: AppState
    privacy: PrivacySettings
    env_reason: str | None
    telemetry: Telemetry | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def spool_dir(self) -> Path | None:
        spool = self.telemetry.delivery.spool if self.telemetry is not None else SpoolSettings.from_env()
        return spool.directory if spool is not None else None


def _resolve(app: str, telemetry: Telemetry | Callable[[], Telemetry] | None) -> _App:
    if not isinstance(app, str) or not app.strip():
        raise TelemetryError("app", "must be the app's name (its service.name), a non-empty string")
    from .telemetry import Telemetry

    t = telemetry() if callable(telemetry) and not isinstance(telemetry, Telemetry) else telemetry
    if t is not None:
        if not isinstance(t, Telemetry):
            raise TelemetryError("telemetry", f"must be a Telemetry or a function returning one, not {t!r}")
        if t.app != app:
            raise TelemetryError("app", f"is {app!r} but the Telemetry stores its users' choice as {t.app!r}")
        return _App(
            app,
            AppState(privacy_state_dir(t.privacy), app),
            t.privacy,
            t.disabled_reason,
            t,
        )
    privacy = PrivacySettings.from_env()
    return _App(
        app,
        AppState(privacy_state_dir(privacy), app),
        privacy,
        opt_out_reason(privacy.disable_env),
    )


def _destination(a: _App) -> str:
    if a.telemetry is not None:
        exporter = a.telemetry.exporter
        settings = getattr(exporter, "settings", None)
        if not isinstance(settings, ExporterSettings):
            return repr(exporter)
    else:
        settings = ExporterSettings.from_env()
    text = f"{settings.endpoint} (OTLP {settings.protocol})"
    return text + (f" - configuration error: {settings.config_error}" if settings.config_error else "")


def _catalog(a: _App) -> Catalog | None:
    if a.telemetry is not None:
        catalog = getattr(a.telemetry.catalog_policy, "catalog", None)
        return catalog
    source = CatalogSettings.from_env().source
    if source is None:
        return None
    from .catalog.model import Catalog

    if isinstance(source, Catalog):
        return source
    try:
        from .catalog.loader import load_catalog

        return load_catalog(source)
    except Exception as exc:  # status must work with a broken catalog; say so instead
        a.extra["catalog_error"] = f"{source}: {exc}"
        return None


def _collected(a: _App) -> tuple[str, ...]:
    catalog = _catalog(a)
    if catalog is None:
        note = a.extra.get("catalog_error")
        return (
            "the events the app sends (it has no event catalog"
            + (f"; the configured one cannot be read: {note}" if note else "")
            + "); `telemetry show` lists recent ones when the app keeps a record",
        )
    lines = [f"the events of the catalog {catalog.source or catalog.title or ''}".rstrip() + ":"]
    for name, spec in sorted(catalog.events.items()):
        groups = catalog.properties_of(spec)
        props = ", ".join(
            f"{group}.{prop}" + _PII_NOTE.get(spec_.pii, "")
            for group, specs in groups.items()
            for prop, spec_ in specs.items()
            if spec_.pii != "drop"
        )
        lines.append(f"- {name}: {spec.description}" + (f" ({props})" if props else ""))
    return tuple(lines)


#: How ``status`` marks a catalog property whose value never leaves the process as it is.
_PII_NOTE = {"hash": " (hashed)"}


def _facts(privacy: PrivacySettings) -> tuple[str, ...]:
    off = privacy.disable_defaults
    if "all" in off:
        return ()
    return (*(name for name in DEFAULT_NAMES if name not in off), "service.name")


def _installation_id(a: _App, stored: StoredChoice) -> str | None:
    off = a.privacy.disable_defaults
    if "all" in off or "app.installation.id" in off:
        return None
    if stored.installation_id:
        return stored.installation_id
    return installation_id(project_id(a.privacy), a.state.state_dir)


def _status(a: _App) -> ConsentStatus:
    stored = a.state.read()
    enabled, reason = decide(a.env_reason, stored, a.privacy.opt_in)
    t = a.telemetry
    sampling: tuple[str, ...] = ()
    defaults: tuple[str, ...] = ()
    if t is not None:
        s = t.records.sampling
        sampling = tuple(f"{name} {rate:.0%}" for name, rate in sorted(s.sample_rates.items()) if rate < 1)
        if s.default_rate < 1:
            sampling += (
                f"other events {s.default_rate:.0%} (never: {', '.join(sorted(s.lifecycle)) or '-'})",
            )
        d = t.records.default_properties
        defaults = tuple(
            f"{group}.{key}"
            for group, props in (("event", d.event), ("user", d.user), ("group", d.group))
            for key in props
        )
    return ConsentStatus(
        app=a.name,
        enabled=enabled,
        reason=reason,
        choice_file=a.state.choice_path,
        stored=stored,
        opt_in=a.privacy.opt_in,
        installation_id=_installation_id(a, stored),
        destination=_destination(a),
        collected=_collected(a),
        facts=_facts(a.privacy),
        notice=a.privacy.notice,
        sent_log=a.state.sent_log_path if a.privacy.sent_log else None,
        sampling=sampling,
        default_properties=defaults,
        forced_off_by=a.env_reason,
    )


# -- the operations --------------------------------------------------------------------------------


def status(app: str, *, telemetry: Telemetry | Callable[[], Telemetry] | None = None) -> ConsentStatus:
    """Whether telemetry is on for ``app`` and why, where the choice is stored, the
    installation id, where events go and what is collected."""
    return _status(_resolve(app, telemetry))


def _store(a: _App, by: str, **change: Any) -> None:
    try:
        a.state.update(by, **change)
    except OSError as exc:
        raise TelemetryError("state_dir", f"cannot store the choice in {a.state.directory}: {exc}") from None
    if a.telemetry is not None:
        a.telemetry._gate.refresh(show_notice=False)  # this process applies it at once


def enable(
    app: str, *, telemetry: Telemetry | Callable[[], Telemetry] | None = None, by: str = "consent.enable()"
) -> ConsentChange:
    """Store "enabled" for ``app`` (environment opt-outs still win)."""
    a = _resolve(app, telemetry)
    _store(a, by, enabled=True)
    return ConsentChange(_status(a))


def disable(
    app: str, *, telemetry: Telemetry | Callable[[], Telemetry] | None = None, by: str = "consent.disable()"
) -> ConsentChange:
    """Store "disabled" for ``app``; every process of the app stops sending within
    ``PrivacySettings.check_interval_s`` (1 s) plus one batch in flight, and unsent events
    are deleted. With ``PrivacySettings(opted_out_event=...)`` that event is sent first."""
    a = _resolve(app, telemetry)
    t = a.telemetry
    sent = False
    event = a.privacy.opted_out_event
    if t is not None and event and a.env_reason is None and t._gate.refresh(show_notice=False):
        sent = t.send(event) and t.flush(OPTED_OUT_FLUSH_S)
    discarded = t.stats().dropped.get("opted_out", 0) if t is not None else 0
    _store(a, by, enabled=False)
    if t is not None:
        _wait_discarded(t, OPTED_OUT_FLUSH_S)
        discarded = t.stats().dropped.get("opted_out", 0) - discarded
    purged = purge_spool(a.spool_dir, app) if a.spool_dir is not None else Purged()
    return ConsentChange(
        _status(a),
        deleted_events=purged.events + discarded,
        deleted_files=tuple(purged.files),
        live_spools=tuple(purged.live),
        shared=tuple(purged.shared),
        opted_out_event_sent=sent,
    )


def _wait_discarded(t: Telemetry, timeout_s: float) -> None:
    """Let this process's own pipeline discard what it holds (its queue, the spool directories
    it writes or adopted), which its exporter now refuses, before the command exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stats = t.stats()
        if stats.queued == 0 and stats.spool_pending == 0:
            return
        time.sleep(0.02)


def reset(
    app: str, *, telemetry: Telemetry | Callable[[], Telemetry] | None = None, by: str = "consent.reset()"
) -> ConsentChange:
    """A new installation id for ``app``: events sent from now on cannot be linked to earlier
    ones (running processes switch within the check interval)."""
    a = _resolve(app, telemetry)
    _store(a, by, new_installation_id=True)
    return ConsentChange(_status(a))


def show(
    app: str, *, last: int = 20, telemetry: Telemetry | Callable[[], Telemetry] | None = None
) -> list[str]:
    """The last ``last`` events ``app`` sent, one line each as ``otel-telemetry tail`` prints them."""
    if isinstance(last, bool) or not isinstance(last, int) or last < 1:
        raise TelemetryError("last", f"must be a positive integer, not {last!r}")
    a = _resolve(app, telemetry)
    records = read_sent(a.state.sent_log_path, last)
    if not records:
        if not a.privacy.sent_log:
            return [f"{app} keeps no record of the events it sends (PrivacySettings(sent_log=N) keeps one)."]
        return [f"{app} has sent no events yet (record: {a.state.sent_log_path})."]
    from .render import record_line

    return [record_line(record) for record in records]


# -- command lines ---------------------------------------------------------------------------------


def _command_name(prog: str, name: str) -> str:
    return f"`{prog} {name}` (command line, pid {os.getpid()})"


def click_group(
    app: str, *, telemetry: Telemetry | Callable[[], Telemetry] | None = None, name: str = "telemetry"
) -> click.Group:
    """A ``telemetry`` click group for ``app``'s command line: ``cli.add_command(click_group("myapp"))``."""
    try:
        import click
    except ImportError as exc:  # pragma: no cover - the message names the extra
        raise ImportError("consent.click_group needs click: pip install 'otel-telemetry[cli]'") from exc

    def run(action: Callable[[], Any]) -> Any:
        try:
            return action()
        except TelemetryError as error:
            raise click.ClickException(str(error)) from None

    @click.group(name=name, help=f"See and change what {app} sends about how it is used.")
    def group() -> None:
        pass

    @group.command("status", help="Whether telemetry is on and why, and what it collects.")
    @click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
    def status_command(as_json: bool) -> None:
        result = run(lambda: status(app, telemetry=telemetry))
        click.echo(json.dumps(result.to_json(), indent=2) if as_json else str(result))

    @group.command("enable", help=f"Turn telemetry on for {app} (stored for every process).")
    @click.pass_context
    def enable_command(ctx: click.Context) -> None:
        by = _command_name(ctx.find_root().info_name or app, f"{name} enable")
        click.echo(str(run(lambda: enable(app, telemetry=telemetry, by=by))))

    @group.command("disable", help=f"Turn telemetry off for {app}; unsent events are deleted.")
    @click.pass_context
    def disable_command(ctx: click.Context) -> None:
        by = _command_name(ctx.find_root().info_name or app, f"{name} disable")
        click.echo(str(run(lambda: disable(app, telemetry=telemetry, by=by))))

    @group.command("show", help=f"The events {app} sent recently.")
    @click.option("--last", "-n", default=20, show_default=True, type=click.IntRange(min=1))
    def show_command(last: int) -> None:
        for line in run(lambda: show(app, last=last, telemetry=telemetry)):
            click.echo(line)

    @group.command("reset", help="A new installation id: later events cannot be linked to earlier ones.")
    @click.pass_context
    def reset_command(ctx: click.Context) -> None:
        by = _command_name(ctx.find_root().info_name or app, f"{name} reset")
        change = run(lambda: reset(app, telemetry=telemetry, by=by))
        click.echo(f"New installation id for {app}: {change.status.installation_id or '(not sent)'}")

    return group


def add_argparse(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    app: str,
    *,
    telemetry: Telemetry | Callable[[], Telemetry] | None = None,
    name: str = "telemetry",
) -> argparse.ArgumentParser:
    """Add ``telemetry status|enable|disable|show|reset`` to an argparse app.

    Each sub-command sets ``func``: after ``args = parser.parse_args()``, the app calls
    ``sys.exit(args.func(args))`` (0 on success, 1 with a message on standard error)."""
    parser = subparsers.add_parser(name, help=f"see and change what {app} sends about how it is used")
    commands = parser.add_subparsers(dest=f"{name}_command", metavar="{status,enable,disable,show,reset}")
    commands.required = True
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else app

    def wrap(action: Callable[[argparse.Namespace], str]) -> Callable[[argparse.Namespace], int]:
        def run(args: argparse.Namespace) -> int:
            try:
                print(action(args))
            except TelemetryError as error:
                print(f"Error: {error}", file=sys.stderr)
                return 1
            return 0

        return run

    def status_text(args: argparse.Namespace) -> str:
        result = status(app, telemetry=telemetry)
        return json.dumps(result.to_json(), indent=2) if args.json else str(result)

    p = commands.add_parser("status", help="whether telemetry is on and why, and what it collects")
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.set_defaults(func=wrap(status_text))
    p = commands.add_parser("enable", help=f"turn telemetry on for {app}")
    p.set_defaults(
        func=wrap(lambda a: str(enable(app, telemetry=telemetry, by=_command_name(prog, f"{name} enable"))))
    )
    p = commands.add_parser("disable", help=f"turn telemetry off for {app}; unsent events are deleted")
    p.set_defaults(
        func=wrap(lambda a: str(disable(app, telemetry=telemetry, by=_command_name(prog, f"{name} disable"))))
    )
    p = commands.add_parser("show", help=f"the events {app} sent recently")
    p.add_argument("--last", "-n", type=int, default=20, help="how many (default: 20)")
    p.set_defaults(func=wrap(lambda a: "\n".join(show(app, last=a.last, telemetry=telemetry))))
    p = commands.add_parser(
        "reset", help="a new installation id: later events cannot be linked to earlier ones"
    )

    def reset_text(args: argparse.Namespace) -> str:
        change = reset(app, telemetry=telemetry, by=_command_name(prog, f"{name} reset"))
        return f"New installation id for {app}: {change.status.installation_id or '(not sent)'}"

    p.set_defaults(func=wrap(reset_text))
    return parser
