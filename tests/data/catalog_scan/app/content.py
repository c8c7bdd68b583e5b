"""Module-level Telemetry instance and the otel_telemetry module function."""

import otel_telemetry
from otel_telemetry import Telemetry

telemetry = Telemetry(service_name="sample")


def create_entry() -> None:
    # declared event, but "locale" is not a declared property
    otel_telemetry.send("didCreateEntry", {"eventProperties": {"status": "draft", "locale": "en"}})


def create_incomplete_entry() -> None:
    # "status" is required and missing from this literal payload
    telemetry.send("didCreateEntry", {"eventProperties": {}})


def create_entry_from_variables(props: dict[str, str]) -> None:
    # payload not literal: nothing to check about its keys
    telemetry.send("didCreateEntry", {"eventProperties": props})


def select_file() -> None:
    telemetry.send("didSelectFile", event_properties={"source": "computer"})
