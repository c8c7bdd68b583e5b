"""What turns queued events into an OTLP request for one ``Telemetry``: its mapper and encoder.

Kept apart from ``Telemetry`` and holding no reference to it, so that:

- an instance the app dropped is collected even while its worker thread still maps and encodes
  what it accepted (the worker holds this object, not the instance), and
- the detached sender of a hand-off (``docs/short-lived.md``) rebuilds the very same encoding
  from plain settings (:meth:`EventEncoder.portable_settings` / :meth:`from_portable`).

Everything here runs on the worker thread, lazily: the resource detectors, the state directory
for ids, the protobuf-shaped encoder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .processes import fork_safe
from .settings import DEFAULT_MAX_REQUEST_BYTES
from .values import AttrValue

if TYPE_CHECKING:
    from .counters import Counters
    from .encoding import BatchEncoder, EncodedBatch
    from .event import Event
    from .mapping import Mapper
    from .settings import PrivacySettings, RecordSettings

SCOPE_NAME = "otel_telemetry"


class EventEncoder:
    """Maps (resource, identity, limits) and encodes batches as one instance's settings say."""

    def __init__(
        self,
        explicit_resource: Mapping[str, AttrValue],
        env_resource: Mapping[str, AttrValue],
        max_resources: int,
        records: RecordSettings,
        privacy: PrivacySettings,
        counters: Counters,
        provider_attributes: Callable[[], Mapping[str, Any]] | None = None,
        *,
        installation: Callable[[], str | None] | None = None,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    ) -> None:
        #: Resource attributes given in code: above a LoggerProvider's resource.
        self.explicit_resource = dict(explicit_resource)
        #: Resource attributes from ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES``: below it.
        self.env_resource = dict(env_resource)
        self.max_resources = max_resources
        self.records = records
        self.privacy = privacy
        self._counters = counters
        self._provider_attributes = provider_attributes
        self._installation = installation
        self.max_request_bytes = max_request_bytes
        self._lock = fork_safe(threading.Lock())
        self._project_id: str | None = None
        self._mapper: Mapper | None = None
        self._encoder: BatchEncoder | None = None

    @property
    def project_id(self) -> str:
        """Strapi's project ``uuid``: the salt of user hashes and of the installation id."""
        with self._lock:
            if self._project_id is None:
                from .identity import project_id

                self._project_id = project_id(self.privacy)
            return self._project_id

    def mapper(self) -> Mapper:
        """The mapper, built on first use (it reads the state directory, runs the detectors)."""
        with self._lock:
            mapper = self._mapper
        if mapper is None:
            from . import processes

            with processes.fork_waits():  # imports, detectors: a fork waits for them
                built = self._build_mapper()
            with self._lock:
                if self._mapper is None:
                    self._mapper = built
                mapper = self._mapper
        return mapper

    def reset_mapper(self) -> None:
        """The installation id changed (``telemetry reset``): build the mapper again."""
        with self._lock:
            self._mapper = None

    def encode(self, batch: Sequence[Event], new_id: Callable[[], str] | None) -> EncodedBatch:
        """``batch`` as requests of at most ``max_request_bytes``, and the events left out."""
        encoder = self._encoder
        if encoder is None:
            from . import processes

            # the first import of the protobuf encoding, on the export thread: a fork meanwhile
            # would leave the child a half-initialised module (every batch an encode_error)
            with processes.fork_waits():
                from .encoding import BatchEncoder
                from .version import __version__

            encoder = self._encoder = BatchEncoder(SCOPE_NAME, __version__)
        return encoder.encode_batch(batch, self._mapper or self.mapper(), new_id, self.max_request_bytes)

    def _base_attributes(self) -> dict[str, AttrValue]:
        from .environment import default_attributes
        from .identity import privacy_state_dir
        from .settings import ci_environ

        privacy = self.privacy
        defaults: dict[str, AttrValue] = dict(
            default_attributes(
                self.project_id, ci_environ(), privacy_state_dir(privacy), privacy.disable_defaults
            )
        )
        if self._installation is not None and "app.installation.id" in defaults:
            installation = self._installation()  # after `telemetry reset`
            if installation:
                defaults["app.installation.id"] = installation
        detected = detected_resource(self.explicit_resource)
        provided = dict(self._provider_attributes()) if self._provider_attributes is not None else {}
        return {**defaults, **detected, **self.env_resource, **provided, **self.explicit_resource}

    def _build_mapper(self) -> Mapper:
        from .encoding import resource_proto
        from .mapping import Mapper
        from .resources import ResourceCache

        r = self.records
        return Mapper(
            ResourceCache(self._base_attributes(), resource_proto, self.max_resources),
            self.project_id,
            attribute_count_limit=r.attribute_count_limit,
            attribute_value_length_limit=r.attribute_value_length_limit,
            event_name_attribute=r.event_name_attribute,
            on_invalid_property=self._counters.invalid_property,
        )

    # -- for the detached sender of a hand-off -----------------------------------------------

    def portable_settings(self) -> dict[str, Any]:
        """Plain data from which :meth:`from_portable` builds an encoder making the same records."""
        from .settings import state_dir

        r, p = self.records, self.privacy
        return {
            "resource": {
                "explicit": dict(self.explicit_resource),
                "env": dict(self.env_resource),
                "max_resources": self.max_resources,
            },
            "records": {
                "attribute_count_limit": r.attribute_count_limit,
                "attribute_value_length_limit": r.attribute_value_length_limit,
                "event_name_attribute": r.event_name_attribute,
            },
            "max_request_bytes": self.max_request_bytes,
            "installation_id": self._installation() if self._installation is not None else None,
            "privacy": {
                # given or already read; else the sender reads it from the same state directory
                # (resolving it here would cost the exit path the identity module's imports)
                "project_id": p.project_id or self._project_id,
                "state_dir": str(p.state_dir if p.state_dir is not None else state_dir()),
                "disable_defaults": sorted(p.disable_defaults),
            },
        }

    @classmethod
    def from_portable(cls, data: Mapping[str, Any], counters: Counters) -> EventEncoder:
        """The encoder :meth:`portable_settings` describes."""
        from .settings import PrivacySettings, RecordSettings

        privacy = dict(data["privacy"])
        state = privacy.pop("state_dir", None)
        resource = data["resource"]
        installation = data.get("installation_id")
        return cls(
            resource["explicit"],
            resource["env"],
            resource["max_resources"],
            RecordSettings(**data["records"]),
            PrivacySettings(
                state_dir=Path(state) if state else None,
                project_id=privacy["project_id"],
                disable_defaults=frozenset(privacy["disable_defaults"]),
            ),
            counters,
            installation=(lambda: installation) if installation else None,
            max_request_bytes=data.get("max_request_bytes", DEFAULT_MAX_REQUEST_BYTES),
        )


def detected_resource(explicit: Mapping[str, AttrValue]) -> dict[str, AttrValue]:
    """The SDK's resource (detectors, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_SERVICE_NAME``).

    ``Resource.create`` runs detectors on a thread pool, which refuses work once the interpreter
    is exiting; a script that sends and exits at once gets the environment detector alone.
    """
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource

    try:
        return dict(Resource.create(dict(explicit)).attributes)  # type: ignore[arg-type]
    except RuntimeError:
        fallback: dict[str, AttrValue] = dict(OTELResourceDetector().detect().attributes)  # type: ignore[arg-type]
        return {**fallback, **explicit}
