"""What is sent: one `Notice` (an alert, its resolution, a pipeline incident, a test) rendered per transport.

- email: subject, plain text and HTML (multipart/alternative);
- Slack: a Block Kit message (header, fields, link button) with a plain `text` fallback;
- webhook: a JSON document (`event`, `id`, the alert's fields, links).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

LINK_FIELDS = ("tenant_id", "tenant_name", "metric", "day")  # placeholders of links.dashboard, URL-encoded
SEVERITY_MARK = {"critical": "🔴", "warning": "🟠", "info": "🔵"}


@dataclass(frozen=True)
class Alert:
    """One row of reporting.rpt_alerts: an alert of marts.fct_metric_alerts with its tenant's name."""

    metric_date: date
    tenant_id: str
    tenant_name: str
    metric: str
    rule: str
    rule_id: str | None
    severity: str
    metric_value: Decimal | float | None
    expected_value: Decimal | float | None
    z_score: Decimal | float | None
    message: str

    @property
    def key(self) -> tuple[date, str, str, str]:
        return (self.metric_date, self.tenant_id, self.metric, self.rule)

    @property
    def tenant_label(self) -> str:
        """The tenant by its name (rpt_tenants: "All tenants" for the all-tenants row)."""
        return self.tenant_name or self.tenant_id

    @property
    def expected_label(self) -> str:
        """'threshold 0.95' for threshold rules, 'expected ~200' for anomalies."""
        if self.expected_value is None:
            return "n/a"
        if self.rule == "anomaly":
            return f"expected ~{fmt_number(self.expected_value)} (z = {fmt_number(self.z_score)})"
        return f"threshold {fmt_number(self.expected_value)}"


def fmt_number(value: Any) -> str:
    if value is None:
        return "n/a"
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:,.4f}".rstrip("0").rstrip(".") if abs(number) < 10 else f"{number:,.2f}"


@dataclass(frozen=True)
class Notice:
    kind: str  # alert | resolved | pipeline | test | board_pack
    title: str
    text: str
    severity: str = "info"
    fields: tuple[tuple[str, str], ...] = ()
    link: str | None = None
    link_label: str = "Open dashboard"
    data: dict[str, Any] = field(default_factory=dict)  # the webhook body's machine-readable part

    @property
    def event(self) -> str:
        return {"alert": "alert.fired", "resolved": "alert.resolved"}.get(self.kind, self.kind.replace("_", "."))


def dashboard_link(template: str | None, alert: Alert) -> str | None:
    """links.dashboard for this alert: `{tenant_name}`, `{tenant_id}`, `{metric}` and `{day}` filled in, URL-encoded
    (a Metabase dashboard URL with its tenant filter: `.../dashboard/3?tenant={tenant_name}`)."""
    if not template:
        return None
    values = {"tenant_id": alert.tenant_id, "tenant_name": alert.tenant_label, "metric": alert.metric}
    values["day"] = alert.metric_date.isoformat()
    link = template
    for name in LINK_FIELDS:
        link = link.replace("{" + name + "}", quote(values[name], safe=""))
    return link


def dashboards_link(template: str | None) -> str | None:
    """links.dashboard for a message about no alert in particular: without its placeholders' query part."""
    if not template or "{" not in template:
        return template
    base = template.split("?", 1)[0]
    return None if "{" in base else base


def alert_notice(alert: Alert, dashboard: str | None) -> Notice:
    return Notice(
        kind="alert",
        title=f"{alert.severity.upper()}: {alert.metric} on {alert.metric_date} ({alert.tenant_label})",
        text=alert.message,
        severity=alert.severity,
        fields=(
            ("Metric", alert.metric),
            ("Value", fmt_number(alert.metric_value)),
            ("Threshold / expected", alert.expected_label),
            ("Tenant", alert.tenant_label),
            ("Day", alert.metric_date.isoformat()),
            ("Rule", f"{alert.rule} ({alert.rule_id})" if alert.rule_id else alert.rule),
        ),
        link=dashboard_link(dashboard, alert),
        data=_alert_data(alert),
    )


def resolved_notice(alert: Alert, cleared_on: date, dashboard: str | None) -> Notice:
    return Notice(
        kind="resolved",
        title=f"RESOLVED: {alert.metric} ({alert.tenant_label}) no longer fires on {cleared_on}",
        text=(
            f"{alert.metric} for {alert.tenant_label} fired on {alert.metric_date} ({alert.rule}, {alert.severity})"
            f" and is back within bounds on {cleared_on}."
        ),
        severity="info",
        fields=(
            ("Metric", alert.metric),
            ("Tenant", alert.tenant_label),
            ("Fired on", alert.metric_date.isoformat()),
            ("Cleared on", cleared_on.isoformat()),
            ("Rule", f"{alert.rule} ({alert.rule_id})" if alert.rule_id else alert.rule),
        ),
        link=dashboard_link(dashboard, alert),
        data={**_alert_data(alert), "cleared_on": cleared_on.isoformat()},
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _alert_data(alert: Alert) -> dict[str, Any]:
    return {
        "metric_date": alert.metric_date.isoformat(),
        "tenant_id": alert.tenant_id,
        "tenant_name": alert.tenant_name,
        "metric": alert.metric,
        "rule": alert.rule,
        "rule_id": alert.rule_id,
        "severity": alert.severity,
        "value": _jsonable(alert.metric_value),
        "expected_value": _jsonable(alert.expected_value),
        "z_score": _jsonable(alert.z_score),
        "message": alert.message,
    }


# ------------------------------------------------------------------------------------------------ renderers


def render_email(notice: Notice) -> tuple[str, str, str]:
    """(subject, plain text, HTML)."""
    subject = f"[execmetrics] {notice.title}"
    lines = [notice.title, "", notice.text, ""]
    lines += [f"{name}: {value}" for name, value in notice.fields]
    if notice.link:
        lines += ["", f"{notice.link_label}: {notice.link}"]
    plain = "\n".join(lines).rstrip() + "\n"
    rows = "".join(
        f'<tr><th align="left" style="padding:2px 12px 2px 0;color:#6b7280">{html.escape(name)}</th>'
        f"<td>{html.escape(value)}</td></tr>"
        for name, value in notice.fields
    )
    link = (
        f'<p><a href="{html.escape(notice.link, quote=True)}">{html.escape(notice.link_label)}</a></p>'
        if notice.link
        else ""
    )
    body = (
        "<!doctype html><html><body style=\"font-family:Arial,'DejaVu Sans',sans-serif;color:#1f2937\">"
        f'<h2 style="margin:0 0 8px">{html.escape(notice.title)}</h2>'
        f"<p>{html.escape(notice.text)}</p><table>{rows}</table>{link}</body></html>"
    )
    return subject, plain, body


def render_slack(notice: Notice) -> dict[str, Any]:
    """A Slack incoming-webhook payload: Block Kit blocks plus the `text` fallback notifications show."""
    mark = (
        SEVERITY_MARK.get(notice.severity, "")
        if notice.kind == "alert"
        else ("✅" if notice.kind == "resolved" else "")
    )
    title = f"{mark} {notice.title}".strip()
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(notice.text)[:3000]}},
    ]
    if notice.fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{_slack_escape(name)}*\n{_slack_escape(value)}"[:2000]}
                    for name, value in notice.fields[:10]
                ],
            }
        )
    if notice.link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": notice.link_label},
                        "url": notice.link,
                    }
                ],
            }
        )
    return {"text": f"{title}: {notice.text}"[:3000], "blocks": blocks}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_webhook(notice: Notice, delivery_id: str, sent_at: int) -> bytes:
    """The webhook body: compact JSON, keys sorted (the bytes that are signed)."""
    document = {
        "event": notice.event,
        "id": delivery_id,
        "sent_at": sent_at,
        "title": notice.title,
        "text": notice.text,
        "severity": notice.severity,
        "link": notice.link,
        "data": notice.data,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=_jsonable).encode("utf-8")
