"""The production table: the contrib ClickHouse exporter's ``otel_logs`` (Map variant) with its
``EventName`` column and a skip index on it, as ``collector-config/clickhouse/otel_events.sql``
and the chDB store create it.

The columns, codecs, bloom-filter indexes on attribute keys and values, partitioning by day
and ordering are the exporter's own (its ``create_schema: true`` makes the same table);
``EventName`` comes last as in the exporter's newer tables, with a ``set`` skip index so that
``WHERE EventName IN (...)`` skips the granules without those events.
"""

from __future__ import annotations

#: ``{database}``, ``{table}`` and ``{ttl}`` are filled in by :func:`clickhouse_ddl`.
_TABLE = """CREATE TABLE IF NOT EXISTS {database}.{table}
(
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TimestampTime DateTime DEFAULT toDateTime(Timestamp),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    TraceFlags UInt8,
    SeverityText LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber UInt8,
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Body String CODEC(ZSTD(1)),
    ResourceSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeSchemaUrl LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    LogAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    EventName LowCardinality(String) CODEC(ZSTD(1)),

    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_value mapValues(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8,
    INDEX idx_event_name EventName TYPE set(256) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(TimestampTime)
PRIMARY KEY (ServiceName, TimestampTime)
ORDER BY (ServiceName, TimestampTime, Timestamp)
{ttl}SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1"""


def clickhouse_ddl(database: str = "otel", table: str = "otel_events", ttl_days: int | None = None) -> str:
    """``CREATE TABLE`` for the events table; ``ttl_days`` adds ``TTL TimestampTime + INTERVAL n DAY``
    (the exporter's ``ttl`` setting: whole day partitions are dropped once all their rows expired)."""
    ttl = f"TTL TimestampTime + toIntervalDay({int(ttl_days)})\n" if ttl_days else ""
    return _TABLE.format(database=database, table=table, ttl=ttl)
