"""Alert delivery through real Dagster runs of `alerts/alert_deliveries` to real receivers on loopback.

The alerts (conftest.ALERT_ROWS, in reporting.rpt_alerts): on DAY (yesterday) a critical threshold alert for t1
(Acme Corp), a warning anomaly for all tenants and an info alert for t2 (Globex); on OLD (30 days ago) a critical
alert for t1. Channels (standard_config): email warning+ (2 alerts on DAY), Slack critical only (1), signed webhook
every severity but tenant t1 only (1). Every try is an event of the audit log (audit.events, delivery.*).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from dagster import DagsterEventType, DagsterInstance, materialize
from delivery_helpers import (
    DASHBOARD,
    DAY,
    NEXT,
    OLD,
    SECRET,
    SLACK_PATH,
    DeliveryEnv,
    attempts,
    deliveries,
    insert_alerts,
)

from dashboards.delivery.signing import SIGNATURE_HEADER, verify_signature


def run_delivery(
    first: Any, last: Any = None, *, historical: bool = False, instance: DagsterInstance | None = None
) -> Any:
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
    from delivery_helpers import delivery_asset, delivery_resources

    asset = delivery_asset()
    tags = {}
    partition_key = None
    if last is None or last == first:
        partition_key = first.isoformat()
    else:
        tags = {ASSET_PARTITION_RANGE_START_TAG: first.isoformat(), ASSET_PARTITION_RANGE_END_TAG: last.isoformat()}
    return materialize(
        [asset],
        partition_key=partition_key,
        tags=tags,
        resources=delivery_resources(),
        instance=instance or DagsterInstance.ephemeral(),
        run_config={"ops": {asset.op.name: {"config": {"deliver_historical": historical}}}},
        raise_on_error=False,
    )


def metadata(result: Any) -> dict[str, Any]:
    materializations = result.asset_materializations_for_node(result.job_def.nodes[0].name)
    materialization = materializations[-1]  # one per partition of the run, with the same figures
    return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}


def test_each_channel_gets_its_alerts_once_and_a_rerun_sends_nothing(delivery_env: DeliveryEnv) -> None:
    env = delivery_env
    env.standard_config()
    result = run_delivery(DAY)
    assert result.success
    assert metadata(result)["sent"] == 4 and metadata(result)["alerts"] == 3

    # email (warning and up): two messages, plain text and HTML, to both recipients
    assert len(env.mail.messages) == 2
    subjects = sorted(m["Subject"].strip() for m in env.mail.messages)
    assert subjects[0].startswith("[execmetrics] CRITICAL: jobs_success_rate on ")
    assert "WARNING: api_requests" in subjects[1]
    critical = next(m for m in env.mail.messages if "CRITICAL" in m["Subject"])
    assert critical["X-Envelope-To"] == "ceo@example.com, cfo@example.com"
    plain = critical.get_body(("plain",)).get_content()
    html = critical.get_body(("html",)).get_content()
    assert "Value: 0.75" in plain and "Threshold / expected: threshold 0.8" in plain
    assert "Tenant: Acme Corp" in plain and "(t1)" not in plain and "for Acme Corp" in plain
    link = DASHBOARD + "?tenant=Acme%20Corp"  # links.dashboard with its {tenant_name}: the tenant's filter set
    assert f"Open dashboard: {link}" in plain
    assert "<td>Acme Corp</td>" in html and f'href="{link}"' in html

    # Slack (critical only): one Block Kit message with metric, value, threshold, tenant name and the link
    [slack] = env.http.accepted(SLACK_PATH)
    payload = slack.json
    assert "jobs_success_rate" in payload["text"]
    fields = {f["text"].split("\n")[0].strip("*"): f["text"].split("\n")[1] for f in payload["blocks"][2]["fields"]}
    assert fields["Metric"] == "jobs_success_rate" and fields["Value"] == "0.75"
    assert fields["Threshold / expected"] == "threshold 0.8" and fields["Tenant"] == "Acme Corp"
    assert payload["blocks"][0]["type"] == "header"
    assert payload["blocks"][-1]["elements"][0]["url"] == DASHBOARD + "?tenant=Acme%20Corp"

    # signed webhook (tenant t1 only): verified by the receiver, as JSON
    [hook] = env.http.accepted("hooks/alerts")
    assert hook.refused is None
    assert verify_signature(SECRET, hook.headers[SIGNATURE_HEADER], hook.body)
    assert hook.json["event"] == "alert.fired"
    assert hook.json["data"]["tenant_name"] == "Acme Corp" and hook.json["data"]["value"] == 0.75
    # the same request sent again, byte for byte: dropped as an id already processed; a body changed under the
    # captured signature is refused; six minutes later the captured request is refused as a replay
    assert env.http.replay(hook) == 200 and env.http.all("hooks/alerts")[-1].duplicate
    assert env.http.replay(hook, hook.body.replace(b"0.75", b"0.95")) == 401
    assert env.http.all("hooks/alerts")[-1].refused == "signature does not match the body"
    env.http.clock_skew_s = 360
    assert env.http.replay(hook) == 401 and "refused as a replay" in (env.http.all("hooks/alerts")[-1].refused or "")
    env.http.clock_skew_s = 0
    assert env.http.accepted("hooks/alerts") == [hook]

    state = deliveries(env)
    assert state[("product-slack", "alert", DAY, "t1", "jobs_success_rate")] == ("sent", 1)
    assert len(state) == 4  # the info alert of t2 and the OLD day were never considered for these channels

    # every try is in the audit log (one each here), with its alert; secrets are in no log: Dagster's nor the audit log
    with env.conn() as conn:
        events = conn.execute(
            """select action, target, outcome, detail, parameters::text from audit.events
               where action like 'delivery.%' order by event_id"""
        ).fetchall()
    assert sorted((action, target, outcome) for action, target, outcome, *_ in events) == [
        ("delivery.alert", "leadership-email", "success"),
        ("delivery.alert", "leadership-email", "success"),
        ("delivery.alert", "ops-webhook", "success"),
        ("delivery.alert", "product-slack", "success"),
    ]
    assert attempts(env, "product-slack") == [(1, "sent")]
    assert all('"tenant_name": "Acme Corp"' in row[4] or '"tenant_id": "__all__"' in row[4] for row in events)
    logged = " ".join(str(event.message) for event in result.all_events) + " ".join(str(row) for row in events)
    assert SLACK_PATH not in logged and SECRET not in logged

    # a re-run of the partition sends nothing new
    again = run_delivery(DAY)
    assert again.success and metadata(again)["sent"] == 0 and metadata(again)["already_sent"] == 4
    assert len(env.mail.messages) == 2 and len(env.http.accepted(SLACK_PATH)) == 1
    assert len(env.http.accepted("hooks/alerts")) == 1


def test_a_backfill_of_old_days_sends_nothing_unless_asked(delivery_env: DeliveryEnv) -> None:
    env = delivery_env
    env.standard_config()
    result = run_delivery(OLD - timedelta(days=2), OLD + timedelta(days=2))
    assert result.success
    assert metadata(result)["sent"] == 0 and metadata(result)["suppressed"] == 3
    assert env.mail.messages == [] and env.http.requests == []
    assert deliveries(env)[("leadership-email", "alert", OLD, "t1", "jobs_success_rate")] == ("suppressed", 0)

    # asked: the alert to its three channels, and its resolution the next day (it no longer fires on OLD + 1)
    asked = run_delivery(OLD - timedelta(days=2), OLD + timedelta(days=2), historical=True)
    assert asked.success and metadata(asked)["sent"] == 6
    assert [m["Subject"].strip().split(":")[0] for m in env.mail.messages] == [
        "[execmetrics] CRITICAL",
        "[execmetrics] RESOLVED",
    ]
    assert len(env.http.accepted(SLACK_PATH)) == 2 and len(env.http.accepted("hooks/alerts")) == 2
    assert run_delivery(OLD - timedelta(days=2), OLD + timedelta(days=2), historical=True).success
    assert len(env.mail.messages) == 2, "asking twice sends nothing twice"


def test_a_receiver_that_fails_once_gets_the_message_once(delivery_env: DeliveryEnv) -> None:
    env = delivery_env
    env.standard_config(slack="fail_once")
    result = run_delivery(DAY)
    assert result.success
    assert [r.status for r in env.http.all(SLACK_PATH)] == [503, 200]
    assert len(env.http.accepted(SLACK_PATH)) == 1
    assert attempts(env, "product-slack") == [(1, "retrying"), (2, "sent")]
    assert deliveries(env)[("product-slack", "alert", DAY, "t1", "jobs_success_rate")] == ("sent", 2)
    # the retry carried the same delivery id, so a receiver can drop a duplicate
    ids = {r.headers["X-Execmetrics-Delivery"] for r in env.http.all(SLACK_PATH)}
    assert len(ids) == 1


def test_a_receiver_that_always_fails_is_recorded_and_fails_the_step(delivery_env: DeliveryEnv) -> None:
    env = delivery_env
    env.standard_config(slack="always_fail")
    result = run_delivery(DAY)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    message = failure.event_specific_data.error.message
    assert "1 alert message(s) could not be delivered" in message and "product-slack" in message
    assert "HTTP 500" in message and SLACK_PATH not in message
    # every try is recorded, then the failure; the other channels still got theirs
    assert attempts(env, "product-slack") == [(1, "retrying"), (2, "retrying"), (3, "failed")]
    assert deliveries(env)[("product-slack", "alert", DAY, "t1", "jobs_success_rate")] == ("failed", 3)
    assert len(env.mail.messages) == 2 and len(env.http.accepted("hooks/alerts")) == 1

    # once the receiver is back, the next run of the day sends the failed message, and only that
    env.http.behaviour["/" + SLACK_PATH] = "ok"
    fixed = run_delivery(DAY)
    assert fixed.success and metadata(fixed)["sent"] == 1
    assert len(env.http.accepted(SLACK_PATH)) == 1 and len(env.mail.messages) == 2


def test_a_receiver_refuses_a_bad_signature_and_that_is_not_retried(delivery_env: DeliveryEnv) -> None:
    env = delivery_env
    env.standard_config(webhook="signed:another-secret")
    result = run_delivery(DAY)
    assert not result.success
    [refused] = env.http.all("hooks/alerts")
    assert refused.status == 401 and refused.refused == "signature does not match the body"
    assert attempts(env, "ops-webhook") == [(1, "failed")]  # a 4xx is permanent: no retry


def test_quiet_hours_hold_messages_until_they_end(delivery_env: DeliveryEnv) -> None:
    from dashboards.delivery.config import load_config
    from dashboards.delivery.deliver import deliver_alerts
    from extract.settings import load_settings
    from extract.warehouse import Warehouse
    from orchestration.sensors import held_days

    env = delivery_env
    env.standard_config(email={"quiet_hours": {"start": "22:00", "end": "07:00"}})
    config = load_config(load_settings().alerts_config)
    warehouse = Warehouse(load_settings())
    night_utc = datetime.combine(DAY, time(23, 30), tzinfo=UTC)
    report = deliver_alerts(warehouse, config, DAY, DAY, timezone="UTC", now=night_utc)
    assert len(report.held) == 2 and env.mail.messages == []
    assert deliveries(env)[("leadership-email", "alert", DAY, "t1", "jobs_success_rate")] == ("held", 0)
    assert held_days(load_settings(), night_utc, "UTC") == [], "still quiet: nothing to launch"
    morning = night_utc + timedelta(hours=8, minutes=30)
    assert held_days(load_settings(), morning, "UTC") == [DAY]
    report = deliver_alerts(warehouse, config, DAY, DAY, timezone="UTC", now=morning)
    assert len(report.sent) == 2 and len(env.mail.messages) == 2
    assert held_days(load_settings(), morning, "UTC") == []


def test_an_alert_that_clears_sends_one_resolved_message(delivery_env: DeliveryEnv) -> None:
    env = delivery_env
    env.standard_config()
    assert run_delivery(DAY).success
    with env.conn() as conn:  # NEXT: t1's job success rate is fine again, the all-tenants anomaly still fires
        insert_alerts(
            conn, [(NEXT, "__all__", "api_requests", "anomaly", "robust_z", "warning", 1900, 201, 48, "high")]
        )
    result = run_delivery(NEXT)
    assert result.success
    resolved = [m for m in env.mail.messages if "RESOLVED" in m["Subject"]]
    assert [m["Subject"].strip() for m in resolved] == [
        f"[execmetrics] RESOLVED: jobs_success_rate (Acme Corp) no longer fires on {NEXT}"
    ]
    assert any("api_requests" in m["Subject"] and "WARNING" in m["Subject"] for m in env.mail.messages[2:])
    slack = env.http.accepted(SLACK_PATH)
    assert len(slack) == 2 and slack[1].json["blocks"][0]["text"]["text"].startswith("✅ RESOLVED")
    hooks = env.http.accepted("hooks/alerts")
    assert [h.json["event"] for h in hooks] == ["alert.fired", "alert.resolved"]
    assert hooks[1].json["data"]["cleared_on"] == NEXT.isoformat()
    assert run_delivery(NEXT).success and len(env.http.accepted("hooks/alerts")) == 2, "resolved once"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("version: 1\nchannels:\n  x:\n    type: pager\n", "channels.x: Input tag 'pager'"),
        (
            "version: 1\nchannels:\n  s:\n    type: slack\n    webhook_url: https://hooks.slack.com/services/T/B/x\n",
            "must be an environment reference",
        ),
        ("version: 1\nchannels:\n  e:\n    type: email\n    to: [a@b.c]\n", "there is no `smtp` block"),
        ("version: 1\nchannels: {}\npipeline_health: {channel: data}\n", "'data' is not a channel"),
        ("version: 1\nchanels: {}\n", "chanels: Extra inputs are not permitted"),
        ("channels: {}\n", "`version: 1` is required"),
        (
            "version: 1\nchannels:\n  w:\n    type: webhook\n    url: http://x\n    secret: ${S}\n"
            "    metrics: [mrr_dorp]\n",
            "unknown metric(s) mrr_dorp",
        ),
    ],
)
def test_the_channels_file_is_validated(text: str, error: str) -> None:
    from dashboards.delivery.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as raised:
        parse_config(text, "alerts.yml")
    assert error in str(raised.value) and str(raised.value).startswith("alerts.yml: ")


def test_the_shipped_channels_file_and_the_documented_example_are_valid() -> None:
    import re

    from dashboards.delivery.config import load_config, parse_config
    from extract.settings import PROJECT_ROOT

    assert load_config(PROJECT_ROOT / "alerts.yml").version == 1
    docs = (PROJECT_ROOT / "docs" / "OPERATIONS.md").read_text()
    [example] = re.findall(r"```yaml\n(# alerts\.yml.*?)```", docs, re.S)
    config = parse_config(example, "OPERATIONS.md example")
    assert {"email", "slack", "webhook"} == {channel.type for channel in config.channels.values()}
    assert config.board_pack is not None and config.pipeline_health is not None


def test_signatures_verify_and_refuse_replays_and_tampering() -> None:
    from dashboards.delivery.signing import SignatureError, sign

    body = b'{"event":"alert.fired"}'
    header = sign("s3cret", body, 1_767_225_600)
    assert verify_signature("s3cret", header, body, now=1_767_225_600 + 299) == 1_767_225_600
    with pytest.raises(SignatureError, match="replay"):
        verify_signature("s3cret", header, body, now=1_767_225_600 + 301)
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature("s3cret", header, body.replace(b"fired", b"fixed"), now=1_767_225_600)
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature("other", header, body, now=1_767_225_600)
