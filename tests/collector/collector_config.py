"""Static checks of OpenTelemetry Collector configuration files.

``check_config(text)`` returns the list of problems the collector (contrib
0.130.0 - 0.159.0) would report when loading the file, or that make the file wrong
for its purpose: unknown or removed component types, components referenced but not
defined, defined but not used (unless marked ``# deliberately unused: <id>``), unknown
or missing keys, bad values, broken extension references, and the shape of the
components that hold OTTL (contexts, keys, routes). The OTTL text itself is not parsed
here: only the collector's own parser knows its grammar and functions
(``test_otelcol_validate.py`` runs ``otelcol-contrib validate`` where it is installed).

The environment is expanded the way the collector's confmap does it
(``${env:NAME}``, ``${env:NAME:-default}``, ``$$`` for a literal ``$``), with
placeholder values for variables that have no default, so the checks see what the
collector would see.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .schemas import SCHEMAS, ListOf, MapOf, Scalar, Schema, Spec

DATA_FILE = Path(__file__).with_name("contrib_components.yaml")
KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")
SIGNALS = ("traces", "metrics", "logs", "profiles")
_ENV_REF = re.compile(r"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$")
_UNUSED_MARKER = re.compile(r"#\s*deliberately unused:\s*([A-Za-z0-9_./-]+)")


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class KnownType:
    kind: str
    name: str
    module: str
    since: str | None = None
    removed_in: str | None = None
    replacement: str | None = None
    renamed_to: str | None = None
    renamed_in: str | None = None


@dataclass(frozen=True)
class Catalog:
    distribution: str
    min_version: str
    max_version: str
    types: Mapping[tuple[str, str], KnownType]
    features: Mapping[str, Mapping[str, str]]


def version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


@cache
def load_catalog(path: Path = DATA_FILE) -> Catalog:
    data = yaml.safe_load(path.read_text())
    types: dict[tuple[str, str], KnownType] = {}
    for kind, entries in data["components"].items():
        for name, info in entries.items():
            types[(kind, name)] = KnownType(
                kind=kind, name=name, **{k: str(v) for k, v in info.items() if k != "alias_kept"}
            )
    return Catalog(
        distribution=data["distribution"],
        min_version=str(data["supported"]["min"]),
        max_version=str(data["supported"]["max"]),
        types=types,
        features={k: {kk: str(vv) for kk, vv in v.items()} for k, v in data["features"].items()},
    )


# ------------------------------------------------------------------ env expansion
def _expand_string(value: str, env: Mapping[str, str], where: str, problems: list[Problem]) -> Any:
    out: list[str] = []
    i = 0
    whole_ref = _ENV_REF.fullmatch(value) is not None
    while i < len(value):
        ch = value[i]
        if ch != "$":
            out.append(ch)
            i += 1
            continue
        if value.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        m = _ENV_REF.match(value, i)
        if m is None:
            problems.append(
                Problem(
                    where,
                    f"stray '$' in {value!r}: write '$$' for a literal '$' "
                    "(the collector expands '$' in configuration strings)",
                )
            )
            out.append("$")
            i += 1
            continue
        name, default = m.group(1), m.group(2)
        if name in env:
            out.append(env[name])
        elif default is not None:
            out.append(default)
        else:
            out.append(f"<{name}>")
        i = m.end()
    expanded = "".join(out)
    if whole_ref and expanded != "":
        # confmap gives a value that is exactly one ${...} the YAML type of its expansion.
        typed = yaml.safe_load(expanded)
        if isinstance(typed, (bool, int, float)):
            return typed
    return expanded


def expand_env(node: Any, env: Mapping[str, str], where: str, problems: list[Problem]) -> Any:
    if isinstance(node, str):
        return _expand_string(node, env, where, problems)
    if isinstance(node, list):
        return [expand_env(item, env, f"{where}[{n}]", problems) for n, item in enumerate(node)]
    if isinstance(node, dict):
        return {k: expand_env(v, env, f"{where}.{k}", problems) for k, v in node.items()}
    return node


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)


def env_vars_used(text: str) -> dict[str, str | None]:
    """Every ${env:NAME[:-default]} in a config's values (not comments), with its default (None if none)."""
    found: dict[str, str | None] = {}
    for value in _strings(yaml.safe_load(text)):
        for m in _ENV_REF.finditer(value):
            if found.get(m.group(1)) is None:
                found[m.group(1)] = m.group(2)
    return found


# ------------------------------------------------------------------ value checks
def _check_spec(value: Any, spec: Spec, where: str, problems: list[Problem]) -> None:
    if isinstance(spec, Scalar):
        _check_scalar(value, spec, where, problems)
    elif isinstance(spec, ListOf):
        if not isinstance(value, list):
            problems.append(Problem(where, f"expected a list, got {type(value).__name__}"))
            return
        for n, item in enumerate(value):
            _check_spec(item, spec.item, f"{where}[{n}]", problems)
    elif isinstance(spec, MapOf):
        if not isinstance(value, dict):
            problems.append(Problem(where, f"expected a map, got {type(value).__name__}"))
            return
        for k, v in value.items():
            _check_spec(v, spec.value, f"{where}.{k}", problems)
    else:
        _check_schema(value, spec, where, problems)


def _check_schema(value: Any, schema: Schema, where: str, problems: list[Problem]) -> None:
    if value is None:
        return  # `key:` with nothing = defaults
    if not isinstance(value, dict):
        problems.append(Problem(where, f"expected a map, got {type(value).__name__}"))
        return
    for key, sub in value.items():
        if key not in schema:
            problems.append(Problem(where, f"has invalid key {key!r} (valid: {', '.join(sorted(schema))})"))
            continue
        _check_spec(sub, schema[key], f"{where}.{key}", problems)


def _check_scalar(value: Any, spec: Scalar, where: str, problems: list[Problem]) -> None:
    kind = spec.kind
    ok = {
        "any": True,
        "str": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "duration": (isinstance(value, int) and not isinstance(value, bool))
        or (isinstance(value, str) and _DURATION.match(value) is not None),
    }[kind]
    if not ok:
        problems.append(Problem(where, f"expected a {kind}, got {value!r}"))
    elif spec.choices and str(value) not in spec.choices:
        problems.append(Problem(where, f"{value!r} is not one of {', '.join(spec.choices)}"))


# ------------------------------------------------------------------ the config
def split_id(component_id: str) -> tuple[str, str | None]:
    type_, _, name = component_id.partition("/")
    return type_, (name or None)


@dataclass
class _Ctx:
    doc: dict[str, Any]
    catalog: Catalog
    problems: list[Problem]

    def section(self, kind: str) -> dict[str, Any]:
        sec = self.doc.get(kind) or {}
        return sec if isinstance(sec, dict) else {}

    def add(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message))


def _check_types(ctx: _Ctx) -> None:
    cat = ctx.catalog
    lo, hi = version_tuple(cat.min_version), version_tuple(cat.max_version)
    for kind in KINDS:
        for cid in ctx.section(kind):
            type_, _ = split_id(cid)
            where = f"{kind}.{cid}"
            known = cat.types.get((kind, type_))
            if known is None:
                ctx.add(
                    where,
                    f"unknown {kind[:-1]} type {type_!r} in {cat.distribution} "
                    f"{cat.min_version}-{cat.max_version}",
                )
                continue
            if known.removed_in and version_tuple(known.removed_in) <= hi:
                ctx.add(
                    where,
                    f"{kind[:-1]} type {type_!r} was removed in {known.removed_in}; use {known.replacement}",
                )
            if known.since and version_tuple(known.since) > lo:
                ctx.add(
                    where,
                    f"{kind[:-1]} type {type_!r} only exists since {known.since}, but the "
                    f"configs support {cat.min_version}; use the older name",
                )


def _pipelines(ctx: _Ctx) -> dict[str, dict[str, Any]]:
    service = ctx.doc.get("service")
    if not isinstance(service, dict):
        ctx.add("service", "missing (a config needs service.pipelines)")
        return {}
    pipelines = service.get("pipelines")
    if not isinstance(pipelines, dict) or not pipelines:
        ctx.add("service.pipelines", "missing or empty")
        return {}
    return pipelines


def _check_pipelines(ctx: _Ctx, pipelines: dict[str, dict[str, Any]]) -> set[tuple[str, str]]:
    """Check references; return the (kind, id) of every component in use."""
    used: set[tuple[str, str]] = set()
    receivers, processors = ctx.section("receivers"), ctx.section("processors")
    exporters, connectors = ctx.section("exporters"), ctx.section("connectors")
    for pname, pipe in pipelines.items():
        where = f"service.pipelines.{pname}"
        signal, _ = split_id(pname)
        if signal not in SIGNALS:
            ctx.add(where, f"pipeline type {signal!r} is not one of {', '.join(SIGNALS)}")
        if not isinstance(pipe, dict):
            ctx.add(where, "must be a map with receivers/processors/exporters")
            continue
        for key in pipe:
            if key not in ("receivers", "processors", "exporters"):
                ctx.add(where, f"has invalid key {key!r}")
        recv_ids = pipe.get("receivers") or []
        proc_ids = pipe.get("processors") or []
        exp_ids = pipe.get("exporters") or []
        if not recv_ids:
            ctx.add(where, "must have at least one receiver")
        if not exp_ids:
            ctx.add(where, "must have at least one exporter")
        for rid in recv_ids:
            if rid in receivers:
                used.add(("receivers", rid))
            elif rid in connectors:
                used.add(("connectors", rid))
            else:
                ctx.add(f"{where}.receivers", f"references receiver {rid!r} which is not configured")
        for xid in exp_ids:
            if xid in exporters:
                used.add(("exporters", xid))
            elif xid in connectors:
                used.add(("connectors", xid))
            else:
                ctx.add(f"{where}.exporters", f"references exporter {xid!r} which is not configured")
        if len(set(proc_ids)) != len(proc_ids):
            ctx.add(f"{where}.processors", "lists a processor twice")
        for pid in proc_ids:
            if pid in processors:
                used.add(("processors", pid))
            else:
                ctx.add(f"{where}.processors", f"references processor {pid!r} which is not configured")
        types = [split_id(p)[0] for p in proc_ids]
        if "memory_limiter" in types and types[0] != "memory_limiter":
            ctx.add(f"{where}.processors", "memory_limiter must be the first processor")
        if "batch" in types and any(t in ("filter", "transform") for t in types[types.index("batch") :]):
            ctx.add(
                f"{where}.processors", "batch must come after filter/transform (filter first, then batch)"
            )
    for cid in connectors:
        as_exporter = any(
            cid in (p.get("exporters") or []) for p in pipelines.values() if isinstance(p, dict)
        )
        as_receiver = any(
            cid in (p.get("receivers") or []) for p in pipelines.values() if isinstance(p, dict)
        )
        if as_exporter != as_receiver:
            side = "receiver" if as_exporter else "exporter"
            ctx.add(f"connectors.{cid}", f"is used in a pipeline but never as a {side}")
    return used


def _check_extensions(ctx: _Ctx) -> set[str]:
    service = ctx.doc.get("service") or {}
    enabled = list(service.get("extensions") or []) if isinstance(service, dict) else []
    defined = ctx.section("extensions")
    for eid in enabled:
        if eid not in defined:
            ctx.add("service.extensions", f"references extension {eid!r} which is not configured")
    enabled_set = set(enabled)

    def walk(node: Any, where: str) -> Iterator[tuple[str, str, str]]:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "authenticator" and isinstance(v, str):
                    yield where, "authenticator", v
                elif k == "storage" and where.endswith("sending_queue") and isinstance(v, str):
                    yield where, "storage", v
                else:
                    yield from walk(v, f"{where}.{k}")
        elif isinstance(node, list):
            for n, item in enumerate(node):
                yield from walk(item, f"{where}[{n}]")

    for kind in ("receivers", "exporters", "extensions", "processors"):
        for cid, cfg in ctx.section(kind).items():
            for where, what, ref in walk(cfg, f"{kind}.{cid}"):
                if ref not in defined:
                    ctx.add(f"{where}.{what}", f"references extension {ref!r} which is not configured")
                elif ref not in enabled_set:
                    ctx.add(
                        f"{where}.{what}",
                        f"extension {ref!r} is configured but not enabled in service.extensions",
                    )
                ref_type = split_id(ref)[0]
                if what == "storage" and ref_type not in ("file_storage", "db_storage", "redis_storage"):
                    ctx.add(f"{where}.{what}", f"{ref!r} is not a storage extension")
                if what == "authenticator" and ref_type not in (
                    "bearertokenauth",
                    "basicauth",
                    "oidc",
                    "headers_setter",
                ):
                    ctx.add(f"{where}.{what}", f"{ref!r} is not an authenticator extension")
    return enabled_set


def _check_unused(ctx: _Ctx, used: set[tuple[str, str]], enabled_ext: set[str], deliberate: set[str]) -> None:
    for kind in KINDS:
        for cid in ctx.section(kind):
            in_use = cid in enabled_ext if kind == "extensions" else (kind, cid) in used
            marked = cid in deliberate
            if not in_use and not marked:
                ctx.add(
                    f"{kind}.{cid}",
                    "is configured but not used in any pipeline (mark it with "
                    f"'# deliberately unused: {cid}' if that is intended)",
                )
            if in_use and marked:
                ctx.add(f"{kind}.{cid}", "is marked deliberately unused but is used")
    all_ids = {cid for kind in KINDS for cid in ctx.section(kind)}
    for cid in deliberate - all_ids:
        ctx.add("comments", f"'deliberately unused: {cid}' names no configured component")


# ------------------------------------------------------------------ per-component rules
def _require(ctx: _Ctx, cfg: Any, where: str, *keys: str) -> None:
    for key in keys:
        node = cfg
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node in (None, "", []):
            ctx.add(where, f"requires {key!r}")


def _ottl(ctx: _Ctx, where: str, text: Any, *, statement: bool) -> None:
    """An OTTL statement or condition must be a non-empty string (its grammar is the collector's)."""
    if not isinstance(text, str) or not text.strip():
        ctx.add(where, f"expected an OTTL {'statement' if statement else 'condition'} string")


_OTTL_CONTEXTS = ("log", "resource", "scope")


def _version_at_least(ctx: _Ctx, feature: str) -> bool:
    return version_tuple(ctx.catalog.min_version) >= version_tuple(ctx.catalog.features[feature]["since"])


def _check_transform(ctx: _Ctx, where: str, cfg: dict[str, Any]) -> None:
    groups = cfg.get("log_statements") or []
    if not groups and not cfg.get("trace_statements") and not cfg.get("metric_statements"):
        ctx.add(where, "has no statements")
    flat = [g for g in groups if isinstance(g, str)]
    structured = [g for g in groups if isinstance(g, dict)]
    if flat and structured:
        ctx.add(f"{where}.log_statements", "mixes flat statements and context groups")
    for n, text in enumerate(flat):
        _ottl(ctx, f"{where}.log_statements[{n}]", text, statement=True)
    for n, group in enumerate(structured):
        gwhere = f"{where}.log_statements[{n}]"
        for key in group:
            if key not in ("context", "statements", "conditions", "error_mode"):
                ctx.add(gwhere, f"has invalid key {key!r}")
        context = group.get("context")
        if context not in _OTTL_CONTEXTS:
            ctx.add(
                f"{gwhere}.context", f"{context!r} is not a log-signal context ({', '.join(_OTTL_CONTEXTS)})"
            )
            continue
        statements = group.get("statements") or []
        if not statements:
            ctx.add(gwhere, "has no statements")
        for m, text in enumerate(statements):
            _ottl(ctx, f"{gwhere}.statements[{m}]", text, statement=True)
        for m, text in enumerate(group.get("conditions") or []):
            _ottl(ctx, f"{gwhere}.conditions[{m}]", text, statement=False)


def _check_filter(ctx: _Ctx, where: str, cfg: dict[str, Any]) -> None:
    logs = cfg.get("logs") or {}
    conditions = cfg.get("log_conditions")
    if conditions is not None and not _version_at_least(ctx, "filter_log_conditions"):
        since = ctx.catalog.features["filter_log_conditions"]["since"]
        ctx.add(
            f"{where}.log_conditions",
            f"needs filter processor >= {since}; the configs support "
            f"{ctx.catalog.min_version}: use logs.log_record",
        )
    if conditions is not None and isinstance(logs, dict) and logs.get("log_record"):
        ctx.add(where, "cannot use log_conditions and logs.log_record together")
    if not (isinstance(logs, dict) and (logs.get("log_record") or logs.get("resource"))) and not conditions:
        ctx.add(where, "has no log conditions (it would not filter anything)")
    if isinstance(logs, dict):
        for n, text in enumerate(logs.get("log_record") or []):
            _ottl(ctx, f"{where}.logs.log_record[{n}]", text, statement=False)
        for n, text in enumerate(logs.get("resource") or []):
            _ottl(ctx, f"{where}.logs.resource[{n}]", text, statement=False)
    for n, text in enumerate(conditions or []):
        _ottl(ctx, f"{where}.log_conditions[{n}]", text, statement=False)


def _check_routing(
    ctx: _Ctx, where: str, cid: str, cfg: dict[str, Any], pipelines: dict[str, dict[str, Any]]
) -> None:
    table = cfg.get("table") or []
    if not table:
        ctx.add(where, "invalid routing table: the routing table is empty")

    def check_targets(targets: Any, twhere: str) -> None:
        for pid in targets or []:
            pipe = pipelines.get(pid)
            if pipe is None:
                ctx.add(twhere, f"routes to pipeline {pid!r} which does not exist")
            elif cid not in (pipe.get("receivers") or []):
                ctx.add(twhere, f"routes to pipeline {pid!r} which does not have {cid!r} as a receiver")

    check_targets(cfg.get("default_pipelines"), f"{where}.default_pipelines")
    for n, item in enumerate(table):
        iwhere = f"{where}.table[{n}]"
        if not isinstance(item, dict):
            ctx.add(iwhere, "must be a map")
            continue
        has_condition, has_statement = bool(item.get("condition")), bool(item.get("statement"))
        if has_condition == has_statement:
            ctx.add(iwhere, "needs exactly one of 'condition' or 'statement'")
        if not item.get("pipelines"):
            ctx.add(iwhere, "invalid route: no pipelines defined")
        check_targets(item.get("pipelines"), f"{iwhere}.pipelines")
        context = item.get("context", "resource")
        if context == "request":
            if has_statement or not re.fullmatch(
                r'request\["[^"]+"\] (==|!=) "[^"]*"', str(item.get("condition"))
            ):
                ctx.add(iwhere, 'request context needs a condition of the form request["key"] == "value"')
            continue
        if context not in ("log", "resource"):
            ctx.add(
                f"{iwhere}.context", f"{context!r} is not a logs routing context (log, resource, request)"
            )
            continue
        if has_condition:
            _ottl(ctx, f"{iwhere}.condition", item["condition"], statement=False)
        if has_statement:
            _ottl(ctx, f"{iwhere}.statement", item["statement"], statement=True)


def _check_component_rules(ctx: _Ctx, pipelines: dict[str, dict[str, Any]]) -> None:
    for kind in KINDS:
        for cid, cfg in ctx.section(kind).items():
            type_, _ = split_id(cid)
            where = f"{kind}.{cid}"
            schema = SCHEMAS.get((kind, type_))
            if schema is not None:
                _check_schema(cfg, schema, where, ctx.problems)
            cfg = cfg if isinstance(cfg, dict) else {}
            rule = (kind, type_)
            if rule == ("receivers", "otlp"):
                protocols = cfg.get("protocols") or {}
                if not isinstance(protocols, dict) or not ({"grpc", "http"} & set(protocols)):
                    ctx.add(where, "must enable at least one protocol (protocols.grpc / protocols.http)")
            elif rule in (("exporters", "otlp"), ("exporters", "otlp_grpc")):
                _require(ctx, cfg, where, "endpoint")
                endpoint = str(cfg.get("endpoint", ""))
                if endpoint and not re.search(r":\d+$|:<[A-Z_]+>$", endpoint.split("://")[-1]):
                    ctx.add(f"{where}.endpoint", f"{endpoint!r} needs a port (host:port)")
            elif rule in (("exporters", "otlphttp"), ("exporters", "otlp_http")):
                if not (cfg.get("endpoint") or cfg.get("logs_endpoint")):
                    ctx.add(where, "requires 'endpoint' (or 'logs_endpoint')")
            elif rule == ("exporters", "file"):
                _require(ctx, cfg, where, "path")
            elif rule == ("exporters", "clickhouse"):
                _require(ctx, cfg, where, "endpoint")
            elif rule == ("exporters", "kafka") or rule == ("receivers", "kafka"):
                _require(ctx, cfg, where, "brokers", "logs.topic", "logs.encoding")
            elif rule == ("exporters", "loadbalancing"):
                _require(ctx, cfg, where, "resolver", "protocol.otlp")
                otlp = (cfg.get("protocol") or {}).get("otlp") or {}
                if isinstance(otlp, dict) and "endpoint" in otlp:
                    ctx.add(f"{where}.protocol.otlp.endpoint", "must not be set (the resolver provides it)")
                if cfg.get("routing_key") == "attributes" and not cfg.get("routing_attributes"):
                    ctx.add(where, "routing_key 'attributes' needs routing_attributes")
                if cfg.get("routing_attributes") and cfg.get("routing_key") != "attributes":
                    ctx.add(where, "routing_attributes needs routing_key: attributes")
            elif rule == ("processors", "memory_limiter"):
                _require(ctx, cfg, where, "check_interval")
                if not (cfg.get("limit_mib") or cfg.get("limit_percentage")):
                    ctx.add(where, "requires 'limit_mib' or 'limit_percentage'")
            elif rule == ("processors", "resourcedetection"):
                _require(ctx, cfg, where, "detectors")
            elif rule == ("processors", "transform"):
                _check_transform(ctx, where, cfg)
            elif rule == ("processors", "filter"):
                _check_filter(ctx, where, cfg)
            elif rule == ("connectors", "routing"):
                _check_routing(ctx, where, cid, cfg, pipelines)
            elif rule == ("extensions", "file_storage"):
                _require(ctx, cfg, where, "directory")
            elif rule == ("extensions", "bearertokenauth") and not (cfg.get("token") or cfg.get("filename")):
                ctx.add(where, "no bearer token provided ('token' or 'filename')")
            _check_queue(ctx, where, cfg)


def _check_queue(ctx: _Ctx, where: str, cfg: dict[str, Any]) -> None:
    queue = cfg.get("sending_queue")
    if isinstance(queue, dict) and queue.get("enabled", True) is not False:
        if "queue_size" in queue and not (isinstance(queue["queue_size"], int) and queue["queue_size"] > 0):
            ctx.add(f"{where}.sending_queue.queue_size", "must be positive")
        if queue.get("storage") and queue.get("wait_for_result"):
            ctx.add(f"{where}.sending_queue", "wait_for_result is not supported with a persistent queue")


# ------------------------------------------------------------------ entry point
def check_config(text: str, env: Mapping[str, str] | None = None) -> list[Problem]:
    """All problems of one collector config file (empty list = the file is fine)."""
    problems: list[Problem] = []
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return [Problem("yaml", f"does not parse: {exc}")]
    if not isinstance(raw, dict):
        return [Problem("yaml", "top level must be a map")]
    for key in raw:
        if key not in (*KINDS, "service"):
            problems.append(Problem(str(key), "is not a valid top-level section"))
    doc = expand_env(raw, env or {}, "config", problems)
    ctx = _Ctx(doc=doc, catalog=load_catalog(), problems=problems)
    for kind in KINDS:
        if kind in doc and not isinstance(doc[kind], dict):
            ctx.add(kind, "must be a map of component id -> settings")
    _check_types(ctx)
    pipelines = _pipelines(ctx)
    used = _check_pipelines(ctx, pipelines)
    enabled_ext = _check_extensions(ctx)
    _check_unused(ctx, used, enabled_ext, set(_UNUSED_MARKER.findall(text)))
    _check_component_rules(ctx, pipelines)
    return problems


def ottl_texts(text: str) -> Iterator[tuple[str, str]]:
    """(where, ottl text) of every OTTL statement/condition in a config, for reporting."""
    doc = yaml.safe_load(text) or {}
    for cid, cfg in (doc.get("processors") or {}).items():
        cfg = cfg or {}
        for n, group in enumerate(cfg.get("log_statements") or []):
            items = [group] if isinstance(group, str) else (group.get("statements") or [])
            for m, stmt in enumerate(items):
                yield f"processors.{cid}.log_statements[{n}][{m}]", stmt
        for n, cond in enumerate((cfg.get("logs") or {}).get("log_record") or []):
            yield f"processors.{cid}.logs.log_record[{n}]", cond
    for cid, cfg in (doc.get("connectors") or {}).items():
        for n, item in enumerate((cfg or {}).get("table") or []):
            for key in ("condition", "statement"):
                if key in item:
                    yield f"connectors.{cid}.table[{n}].{key}", item[key]
