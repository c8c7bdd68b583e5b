"""An attribute bound to Telemetry(), an annotated parameter, an aliased send, a dynamic name."""

from otel_telemetry import Telemetry
from otel_telemetry import send as track


class Media:
    def __init__(self) -> None:
        self.t = Telemetry()

    def upload(self) -> None:
        self.t.send("didUploadFile")  # not in the catalog
        track("ping")


def legacy(t: Telemetry, kind: str) -> None:
    t.send("didOld", event_properties={"x": 1})  # deprecated; "x" not declared
    t.send(f"did{kind}")  # not a literal: reported as a warning
