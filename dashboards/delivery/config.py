"""The channels file (`alerts.yml`, or ALERTS_CONFIG): who is told about what, and how.

Versioned (`version: 1`) and validated on load: an unknown key, a channel of an unknown type, an email channel
without an `smtp` block, a health or board-pack section naming a channel that does not exist, or a secret written
in the file instead of an environment reference is an error that names the file and the key.

Secrets (SMTP password, webhook signing secret, Slack webhook URL) are `${NAME}` references, resolved from the
environment (or the settings files, `.env`) only when a message is sent; their values are never logged or stored.
Any other string value may use `${NAME}` too.
"""

from __future__ import annotations

import os
import re
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from extract.settings import env_file_values

SEVERITIES = ("info", "warning", "critical")
Severity = Literal["info", "warning", "critical"]
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SECRET_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")


class ConfigError(ValueError):
    """The channels file is missing a value, malformed, or names an unset environment variable."""


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def expand(value: str, what: str) -> str:
    """`value` with every `${NAME}` replaced from the environment, then the settings files (`.env`, or
    EXECMETRICS_ENV_FILE: extract/settings.py); an unset name is a ConfigError."""
    if "${" not in value:
        return value
    fallback: dict[str, str] | None = None

    def one(match: re.Match[str]) -> str:
        nonlocal fallback
        name = match.group(1)
        if name in os.environ:
            return os.environ[name]
        fallback = env_file_values() if fallback is None else fallback
        if name in fallback:
            return fallback[name]
        raise ConfigError(f"{what}: environment variable {name} is not set")

    return ENV_REF.sub(one, value)


def _secret_ref(value: str | None) -> str | None:
    if value is not None and not SECRET_REF.match(value):
        raise ValueError("must be an environment reference such as ${SLACK_WEBHOOK_URL}, not the secret itself")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuietHours(_Model):
    """Local times in the reporting timezone; start > end wraps midnight (22:00-07:00)."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


class _Channel(_Model):
    enabled: bool = True
    alerts: bool = Field(default=True, description="false: pipeline health, board pack and tests only")
    min_severity: Severity = "warning"
    metrics: list[str] | None = Field(default=None, description="only these metrics (default: all)")
    tenants: list[str] | None = Field(default=None, description="only these tenant ids, '__all__' included")
    quiet_hours: QuietHours | None = None
    send_resolved: bool = True

    def covers(self, severity: str, metric: str, tenant_id: str) -> bool:
        return (
            self.alerts
            and severity_rank(severity) >= severity_rank(self.min_severity)
            and (self.metrics is None or metric in self.metrics)
            and (self.tenants is None or tenant_id in self.tenants)
        )


class EmailChannel(_Channel):
    type: Literal["email"]
    to: list[str] = Field(min_length=1)

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address and "${" not in address:
                raise ValueError(f"{address!r} is not an email address")
        return value


class SlackChannel(_Channel):
    type: Literal["slack"]
    webhook_url: str = Field(description="${NAME} of the incoming-webhook URL (the URL is a secret)")
    timeout_seconds: float = 10.0

    @field_validator("webhook_url")
    @classmethod
    def _ref(cls, value: str) -> str | None:
        return _secret_ref(value)


class WebhookChannel(_Channel):
    type: Literal["webhook"]
    url: str
    secret: str = Field(description="${NAME} of the HMAC-SHA256 signing secret")
    timeout_seconds: float = 10.0

    @field_validator("secret")
    @classmethod
    def _ref(cls, value: str) -> str | None:
        return _secret_ref(value)


Channel = Annotated[EmailChannel | SlackChannel | WebhookChannel, Field(discriminator="type")]


class Smtp(_Model):
    host: str
    port: int = 587
    username: str | None = None
    password: str | None = Field(default=None, description="${NAME} of the SMTP password")
    starttls: bool = True
    ssl: bool = False
    sender: str = Field(alias="from")
    timeout_seconds: float = 20.0

    @field_validator("password")
    @classmethod
    def _ref(cls, value: str | None) -> str | None:
        return _secret_ref(value)


class Retry(_Model):
    attempts: int = Field(default=4, ge=1, le=20, description="tries per message, the first included")
    backoff_seconds: float = Field(default=2.0, ge=0, description="wait before the 2nd try; doubles each time")
    max_backoff_seconds: float = Field(default=60.0, ge=0)

    def wait(self, failed_attempts: int) -> float:
        return float(min(self.max_backoff_seconds, self.backoff_seconds * (2 ** (failed_attempts - 1))))


class BoardPack(_Model):
    to: list[str] = Field(min_length=1)
    tenant: str | None = None


class PipelineHealth(_Model):
    channel: str


class Links(_Model):
    dashboard: str | None = Field(
        default=None,
        description="the dashboard linked in messages; {tenant_name}, {tenant_id}, {metric}, {day} filled in",
    )
    dagster: str | None = Field(default=None, description="the Dagster UI's base URL (run links)")


class AlertsConfig(_Model):
    version: Literal[1]
    max_age_days: int = Field(
        default=3, ge=0, description="alerts older than this (days before today) are sent only when asked"
    )
    links: Links = Links()
    retry: Retry = Retry()
    smtp: Smtp | None = None
    channels: dict[str, Channel] = Field(default_factory=dict)
    board_pack: BoardPack | None = None
    pipeline_health: PipelineHealth | None = None

    @model_validator(mode="after")
    def _references(self) -> AlertsConfig:
        for name, channel in self.channels.items():
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
                raise ValueError(f"channel name {name!r}: use lowercase letters, digits, '-' and '_'")
            if isinstance(channel, EmailChannel) and self.smtp is None:
                raise ValueError(f"channel {name!r} sends email but there is no `smtp` block")
        if self.board_pack is not None and self.smtp is None:
            raise ValueError("board_pack is emailed but there is no `smtp` block")
        if self.pipeline_health is not None and self.pipeline_health.channel not in self.channels:
            raise ValueError(f"pipeline_health.channel {self.pipeline_health.channel!r} is not a channel")
        return self

    def enabled_channels(self) -> dict[str, Any]:
        return {name: channel for name, channel in self.channels.items() if channel.enabled}

    def channel(self, name: str) -> EmailChannel | SlackChannel | WebhookChannel:
        if name not in self.channels:
            known = ", ".join(sorted(self.channels)) or "none"
            raise ConfigError(f"no channel {name!r} in the channels file (channels: {known})")
        return self.channels[name]


EMPTY = AlertsConfig(version=1)


def _location(error: Any) -> str:
    return ".".join(str(part) for part in error.get("loc", ()) if not str(part).startswith("function-after")) or "top"


def parse_config(text: str, source: str = "alerts.yml") -> AlertsConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top, got {type(data).__name__}")
    if "version" not in data:
        raise ConfigError(f"{source}: `version: 1` is required (the file's format version)")
    try:
        config = AlertsConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{_location(e)}: {e['msg']}" for e in exc.errors(include_url=False))
        raise ConfigError(f"{source}: {problems}") from None
    from dashboards.delivery.metrics import unknown_metrics

    for name, channel in config.channels.items():
        unknown = unknown_metrics(channel.metrics or [])
        if unknown:
            raise ConfigError(f"{source}: channels.{name}.metrics: unknown metric(s) {', '.join(unknown)}")
    return config


def load_channels(path: Path) -> AlertsConfig:
    """The channels file a command needs: ConfigError when it is missing or invalid."""
    if not path.exists():
        raise ConfigError(f"no channels file at {path}: set ALERTS_CONFIG, or write alerts.yml (docs/OPERATIONS.md)")
    return load_config(path)


def load_config(path: Path) -> AlertsConfig:
    """The channels file at `path` (the ALERTS_CONFIG setting); a missing file means no channels."""
    if not path.exists():
        return EMPTY
    return parse_config(path.read_text(encoding="utf-8"), str(path))
