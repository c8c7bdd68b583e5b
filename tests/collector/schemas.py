"""Config keys of the collector components used in collector-config/, as data.

Read from each component's config.go (``mapstructure`` tags) in
open-telemetry/opentelemetry-collector (core) and opentelemetry-collector-contrib, for
the keys that exist across 0.130.0 - 0.159.0. A schema is a dict of allowed keys; a
value is either a nested schema, a scalar kind, ``ListOf``/``MapOf`` or ``ANY``. Keys
that are not listed are rejected (the collector fails on unknown keys too), so a
typo such as ``sending_queue.storag`` or a key from the wrong version is caught.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Scalar:
    kind: str  # "str" | "bool" | "int" | "number" | "duration" | "any"
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListOf:
    item: Spec


@dataclass(frozen=True)
class MapOf:
    """A map with free-form keys (headers, connection params)."""

    value: Spec


Schema = Mapping[str, "Spec"]
Spec = Scalar | ListOf | MapOf | Schema

STR = Scalar("str")
BOOL = Scalar("bool")
INT = Scalar("int")
NUMBER = Scalar("number")
DURATION = Scalar("duration")
ANY = Scalar("any")
ERROR_MODE = Scalar("str", ("ignore", "propagate", "silent"))
COMPRESSION = Scalar("str", ("", "none", "gzip", "zlib", "deflate", "snappy", "zstd", "lz4"))

# config/configtls
TLS_COMMON: Schema = {
    "ca_file": STR,
    "ca_pem": STR,
    "include_system_ca_certs_pool": BOOL,
    "cert_file": STR,
    "cert_pem": STR,
    "key_file": STR,
    "key_pem": STR,
    "min_version": Scalar("str", ("1.0", "1.1", "1.2", "1.3")),
    "max_version": Scalar("str", ("", "1.0", "1.1", "1.2", "1.3")),
    "cipher_suites": ListOf(STR),
    "curve_preferences": ListOf(STR),
    "reload_interval": DURATION,
}
TLS_CLIENT: Schema = {
    **TLS_COMMON,
    "insecure": BOOL,
    "insecure_skip_verify": BOOL,
    "server_name_override": STR,
}
TLS_SERVER: Schema = {**TLS_COMMON, "client_ca_file": STR, "client_ca_file_reload": BOOL}
AUTH: Schema = {"authenticator": STR}

# config/configgrpc, config/confighttp
GRPC_SERVER: Schema = {
    "endpoint": STR,
    "transport": STR,
    "tls": TLS_SERVER,
    "max_recv_msg_size_mib": INT,
    "max_concurrent_streams": INT,
    "read_buffer_size": INT,
    "write_buffer_size": INT,
    "keepalive": ANY,
    "auth": AUTH,
    "include_metadata": BOOL,
}
HTTP_SERVER: Schema = {
    "endpoint": STR,
    "tls": TLS_SERVER,
    "cors": {"allowed_origins": ListOf(STR), "allowed_headers": ListOf(STR), "max_age": INT},
    "auth": AUTH,
    "max_request_body_size": INT,
    "include_metadata": BOOL,
    "compression_algorithms": ListOf(STR),
    "read_timeout": DURATION,
    "read_header_timeout": DURATION,
    "write_timeout": DURATION,
    "idle_timeout": DURATION,
}
GRPC_CLIENT: Schema = {
    "endpoint": STR,
    "compression": COMPRESSION,
    "tls": TLS_CLIENT,
    "keepalive": {"time": DURATION, "timeout": DURATION, "permit_without_stream": BOOL},
    "read_buffer_size": INT,
    "write_buffer_size": INT,
    "wait_for_ready": BOOL,
    "headers": MapOf(STR),
    "balancer_name": STR,
    "authority": STR,
    "auth": AUTH,
}
HTTP_CLIENT: Schema = {
    "endpoint": STR,
    "tls": TLS_CLIENT,
    "read_buffer_size": INT,
    "write_buffer_size": INT,
    "timeout": DURATION,
    "headers": MapOf(STR),
    "auth": AUTH,
    "compression": COMPRESSION,
    "max_idle_conns": INT,
    "max_idle_conns_per_host": INT,
    "max_conns_per_host": INT,
    "idle_conn_timeout": DURATION,
    "disable_keep_alives": BOOL,
    "proxy_url": STR,
}

# exporter/exporterhelper (QueueBatchConfig, TimeoutConfig) and config/configretry
SENDING_QUEUE: Schema = {
    "enabled": BOOL,
    "wait_for_result": BOOL,
    "sizer": Scalar("str", ("requests", "items", "bytes")),
    "queue_size": INT,
    "block_on_overflow": BOOL,
    "storage": STR,
    "num_consumers": INT,
    "batch": {"flush_timeout": DURATION, "sizer": STR, "min_size": INT, "max_size": INT},
}
RETRY: Schema = {
    "enabled": BOOL,
    "initial_interval": DURATION,
    "randomization_factor": NUMBER,
    "multiplier": NUMBER,
    "max_interval": DURATION,
    "max_elapsed_time": DURATION,
}
EXPORTER_HELPER: Schema = {"timeout": DURATION, "sending_queue": SENDING_QUEUE, "retry_on_failure": RETRY}

OTLP_GRPC_EXPORTER: Schema = {**GRPC_CLIENT, **EXPORTER_HELPER}
OTLP_HTTP_EXPORTER: Schema = {
    **HTTP_CLIENT,
    **EXPORTER_HELPER,
    "traces_endpoint": STR,
    "metrics_endpoint": STR,
    "logs_endpoint": STR,
    "encoding": Scalar("str", ("proto", "json")),
}

KAFKA_CLIENT: Schema = {
    "brokers": ListOf(STR),
    "resolve_canonical_bootstrap_servers_only": BOOL,
    "client_id": STR,
    "protocol_version": STR,
    "tls": TLS_CLIENT,
    "auth": ANY,
    "metadata": ANY,
}
KAFKA_SIGNAL: Schema = {"topic": STR, "topics": ListOf(STR), "encoding": STR}

SCHEMAS: Mapping[tuple[str, str], Schema] = {
    ("receivers", "otlp"): {
        "protocols": {
            "grpc": GRPC_SERVER,
            "http": {
                **HTTP_SERVER,
                "traces_url_path": STR,
                "metrics_url_path": STR,
                "logs_url_path": STR,
            },
        }
    },
    ("receivers", "kafka"): {
        **KAFKA_CLIENT,
        "group_id": STR,
        "initial_offset": Scalar("str", ("earliest", "latest")),
        "session_timeout": DURATION,
        "heartbeat_interval": DURATION,
        "autocommit": {"enable": BOOL, "interval": DURATION},
        "logs": KAFKA_SIGNAL,
        "metrics": KAFKA_SIGNAL,
        "traces": KAFKA_SIGNAL,
        "message_marking": {"after": BOOL, "on_error": BOOL, "on_permanent_error": BOOL},
        "header_extraction": {"extract_headers": BOOL, "headers": ListOf(STR)},
        "error_backoff": RETRY,
    },
    ("processors", "batch"): {
        "send_batch_size": INT,
        "send_batch_max_size": INT,
        "timeout": DURATION,
        "metadata_keys": ListOf(STR),
        "metadata_cardinality_limit": INT,
    },
    ("processors", "memory_limiter"): {
        "check_interval": DURATION,
        "limit_mib": INT,
        "spike_limit_mib": INT,
        "limit_percentage": INT,
        "spike_limit_percentage": INT,
        "min_gc_interval_when_soft_limited": DURATION,
        "min_gc_interval_when_hard_limited": DURATION,
    },
    ("processors", "resourcedetection"): {
        "detectors": ListOf(STR),
        "timeout": DURATION,
        "override": BOOL,
        "system": {"hostname_sources": ListOf(STR), "resource_attributes": ANY},
        "env": ANY,
        "ec2": ANY,
        "gcp": ANY,
        "azure": ANY,
        "k8snode": ANY,
        "docker": ANY,
    },
    ("processors", "filter"): {
        "error_mode": ERROR_MODE,
        "logs": {"log_record": ListOf(STR), "resource": ListOf(STR), "include": ANY, "exclude": ANY},
        "log_conditions": ListOf(ANY),
        "traces": ANY,
        "metrics": ANY,
    },
    ("processors", "transform"): {
        "error_mode": ERROR_MODE,
        "log_statements": ListOf(ANY),
        "trace_statements": ListOf(ANY),
        "metric_statements": ListOf(ANY),
        "flatten_data": BOOL,
    },
    ("exporters", "debug"): {
        "verbosity": Scalar("str", ("basic", "normal", "detailed")),
        "sampling_initial": INT,
        "sampling_thereafter": INT,
        "use_internal_logger": BOOL,
    },
    ("exporters", "file"): {
        "path": STR,
        "format": Scalar("str", ("json", "proto")),
        "compression": Scalar("str", ("", "zstd")),
        "flush_interval": DURATION,
        "append": BOOL,
        "rotation": {"max_megabytes": INT, "max_days": INT, "max_backups": INT, "localtime": BOOL},
        "group_by": ANY,
    },
    ("exporters", "otlp"): OTLP_GRPC_EXPORTER,
    ("exporters", "otlp_grpc"): OTLP_GRPC_EXPORTER,
    ("exporters", "otlphttp"): OTLP_HTTP_EXPORTER,
    ("exporters", "otlp_http"): OTLP_HTTP_EXPORTER,
    ("exporters", "clickhouse"): {
        **EXPORTER_HELPER,
        "endpoint": STR,
        "username": STR,
        "password": STR,
        "database": STR,
        "connection_params": MapOf(STR),
        "logs_table_name": STR,
        "traces_table_name": STR,
        "ttl": DURATION,
        "table_engine": {"name": STR, "params": STR},
        "cluster_name": STR,
        "create_schema": BOOL,
        "compress": STR,
        "async_insert": BOOL,
    },
    ("exporters", "kafka"): {
        **KAFKA_CLIENT,
        **EXPORTER_HELPER,
        "logs": KAFKA_SIGNAL,
        "metrics": KAFKA_SIGNAL,
        "traces": KAFKA_SIGNAL,
        "producer": {
            "max_message_bytes": INT,
            "required_acks": Scalar("int"),
            "compression": Scalar("str", ("none", "gzip", "snappy", "lz4", "zstd")),
            "flush_max_messages": INT,
        },
        "include_metadata_keys": ListOf(STR),
    },
    ("exporters", "loadbalancing"): {
        **EXPORTER_HELPER,
        "routing_key": Scalar("str", ("traceID", "service", "resource", "metric", "streamID", "attributes")),
        "routing_attributes": ListOf(STR),
        "protocol": {"otlp": {k: v for k, v in OTLP_GRPC_EXPORTER.items() if k != "endpoint"}},
        "resolver": {
            "static": {"hostnames": ListOf(STR)},
            "dns": {"hostname": STR, "port": STR, "interval": DURATION, "timeout": DURATION},
            "k8s": {"service": STR, "ports": ListOf(INT), "timeout": DURATION, "return_hostnames": BOOL},
        },
    },
    ("connectors", "routing"): {
        "error_mode": ERROR_MODE,
        "default_pipelines": ListOf(STR),
        "table": ListOf({"context": STR, "condition": STR, "statement": STR, "pipelines": ListOf(STR)}),
    },
    ("extensions", "health_check"): {
        "endpoint": STR,
        "path": STR,
        "tls": TLS_SERVER,
        "check_collector_pipeline": ANY,
        "response_body": ANY,
    },
    ("extensions", "file_storage"): {
        "directory": STR,
        "timeout": DURATION,
        "fsync": BOOL,
        "create_directory": BOOL,
        "directory_permissions": STR,
        "compaction": {
            "on_start": BOOL,
            "on_rebound": BOOL,
            "directory": STR,
            "max_transaction_size": INT,
            "rebound_needed_threshold_mib": INT,
            "rebound_trigger_threshold_mib": INT,
            "check_interval": DURATION,
            "cleanup_on_start": BOOL,
        },
    },
    ("extensions", "bearertokenauth"): {"scheme": STR, "token": STR, "filename": STR, "header": STR},
}
