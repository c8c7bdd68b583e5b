"""A Strapi-like CMS backend that reports how it is used, as Strapi's admin panel does.

Editors upload files and create entries; the app sends `didSelectFile`, `willCreateEntry`,
then `didCreateEntry` (or `didNotCreateEntry`) with the properties Strapi sends. Who the editor
is travels only as a salted hash (`user_id=`), and the project's facts are group properties.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from typing import Any

from otel_telemetry import ONCE_PER_DAY, RecordSettings, ResourceSettings, Telemetry


@dataclass
class ContentType:
    uid: str
    kind: str = "collectionType"
    draft_and_publish: bool = True
    i18n: bool = False
    required: tuple[str, ...] = ()


@dataclass
class CMS:
    telemetry: Telemetry
    content_types: dict[str, ContentType] = field(default_factory=dict)
    entries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def upload(self, editor_id: str, filename: str, size_bytes: int) -> None:
        mime, _ = mimetypes.guess_type(filename)
        self.telemetry.send(
            "didSelectFile",
            {
                "eventProperties": {
                    "mimeType": mime or "application/octet-stream",
                    "sizeKb": size_bytes // 1024,
                }
            },
            user_id=editor_id,
        )

    def create_entry(self, editor_id: str, model: str, data: dict[str, Any]) -> bool:
        ct = self.content_types[model]
        props = {
            "model": ct.uid,
            "kind": ct.kind,
            "hasDraftAndPublish": ct.draft_and_publish,
            "i18n": ct.i18n,
        }
        self.telemetry.send("willCreateEntry", {"eventProperties": props}, user_id=editor_id)
        missing = [name for name in ct.required if not data.get(name)]
        if missing:
            self.telemetry.send(
                "didNotCreateEntry",
                {"eventProperties": {**props, "error": "ValidationError", "fieldCount": len(missing)}},
                user_id=editor_id,
            )
            return False
        self.entries.setdefault(model, []).append(data)
        self.telemetry.send(
            "didCreateEntry",
            {"eventProperties": {**props, "fieldCount": len(data)}, "userProperties": {"role": "Editor"}},
            user_id=editor_id,
        )
        return True


def main() -> int:
    telemetry = Telemetry(
        "acme-cms",
        resource=ResourceSettings(service_version="4.15.0"),
        # Strapi's "limited events": each at most once a day.
        records=RecordSettings(rate_limits={"didInitializeProject": ONCE_PER_DAY}),
    )
    cms = CMS(
        telemetry,
        {
            "article": ContentType("api::article.article", required=("title",), i18n=True),
            "category": ContentType("api::category.category", draft_and_publish=False),
        },
    )
    # Group properties describe the project and are the same for every event of this process.
    group = {"projectType": "Community", "useTypescriptOnServer": True, "database": "postgres"}
    telemetry.send("didInitializeProject", {"groupProperties": group})
    cms.upload("editor-17", "cover.png", 320_512)
    cms.create_entry("editor-17", "article", {"title": "Hello", "body": "First post"})
    cms.create_entry("editor-17", "category", {"name": "News"})
    cms.create_entry("editor-42", "article", {"body": "no title"})
    ok = telemetry.flush(10)
    print(f"sent {telemetry.stats().exported} events" if ok else "events were not delivered")
    telemetry.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
