"""The app source tables (contracts/app_source.md) as the extractor sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["text", "timestamptz", "bool", "int", "float", "json"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False  # a null or empty value rejects the row


@dataclass(frozen=True)
class TableSpec:
    name: str  # the app's table name
    columns: tuple[Column, ...]
    mode: Literal["versioned", "append"]
    watermark: str  # updated_at (versioned) or occurred_at (append)
    allowed: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def raw_table(self) -> str:
        return f"raw.app_{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def has_tenant(self) -> bool:
        return "tenant_id" in self.column_names


def _c(name: str, kind: Kind = "text", required: bool = False) -> Column:
    return Column(name, kind, required)


JOB_STATUSES = frozenset({"queued", "running", "succeeded", "failed", "cancelled"})
EVENT_TYPES = frozenset(
    {"signup", "login", "file_upload", "worklog_created", "report_generated", "invite_sent", "plan_changed"}
)

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "tenants",
            (
                _c("id", required=True),
                _c("name"),
                _c("plan"),
                _c("created_at", "timestamptz"),
                _c("updated_at", "timestamptz", True),
                _c("stripe_customer_id"),
                _c("is_internal", "bool"),
                _c("deleted_at", "timestamptz"),
            ),
            "versioned",
            "updated_at",
        ),
        TableSpec(
            "users",
            (
                _c("id", required=True),
                _c("tenant_id", required=True),
                _c("email"),
                _c("created_at", "timestamptz"),
                _c("updated_at", "timestamptz", True),
                _c("last_login_at", "timestamptz"),
                _c("is_staff", "bool"),
                _c("deleted_at", "timestamptz"),
            ),
            "versioned",
            "updated_at",
        ),
        TableSpec(
            "jobs",
            (
                _c("id", required=True),
                _c("tenant_id", required=True),
                _c("job_type"),
                _c("status", required=True),
                _c("created_at", "timestamptz"),
                _c("started_at", "timestamptz"),
                _c("finished_at", "timestamptz"),
                _c("updated_at", "timestamptz", True),
                _c("error"),
            ),
            "versioned",
            "updated_at",
            allowed={"status": JOB_STATUSES},
        ),
        TableSpec(
            "events",
            (
                _c("id", required=True),
                _c("tenant_id", required=True),
                _c("user_id"),
                _c("event_type", required=True),
                _c("occurred_at", "timestamptz", True),
                _c("properties", "json"),
            ),
            "append",
            "occurred_at",
        ),
        TableSpec(
            "api_requests",
            (
                _c("id", required=True),
                _c("tenant_id", required=True),
                _c("user_id"),
                _c("method"),
                _c("route"),
                _c("status_code", "int"),
                _c("duration_ms", "float"),
                _c("occurred_at", "timestamptz", True),
            ),
            "append",
            "occurred_at",
        ),
    )
}

# Columns a source must have (a missing one is a clear error naming table and column). Nullable columns may be
# absent from a file source only if they are not in this set.
REQUIRED_SOURCE_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(column.name for column in spec.columns if column.required) for name, spec in TABLES.items()
}
