"""`alerts/alert_deliveries`: the alerts of the partition's days, sent to the channels of the channels file.

Daily-partitioned and tagged `daily` (the daily job selects by that tag), downstream of `reporting/rpt_alerts` (the
alerts with tenant names, what it reads): part of the daily job and of every backfill. It connects as the transformer
role (the pipeline after dbt: it writes audit.alert_deliveries; each try goes to the audit log).
What goes out once, what is held or suppressed: dashboards/delivery/deliver.py. Run config `deliver_historical`
(`execmetrics backfill --deliver-historical`) sends the alerts of old days too. A message that still fails after its
retries fails the step, after every other message has been tried and the failure recorded.
"""

from datetime import timedelta
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from orchestration.assets.dbt import DAILY
from orchestration.resources import DeliveryResource, WarehouseResource, partition_locks

DELIVERY_KEY = AssetKey(["alerts", "alert_deliveries"])
ALERTS_KEY = AssetKey(["reporting", "rpt_alerts"])
DELIVERY_ROLE = "transformer"


class DeliveryConfig(Config):  # type: ignore[misc]
    deliver_historical: bool = False


def build_delivery_asset(daily: Any, backfill: Any):  # -> AssetsDefinition
    """The delivery asset on the daily partitions `daily`, with the backfill policy `backfill`."""

    @asset(
        key=DELIVERY_KEY,
        deps=[ALERTS_KEY],
        tags={DAILY: ""},
        partitions_def=daily,
        backfill_policy=backfill,
        group_name="delivery",
        op_tags={"execmetrics/stage": "delivery"},
        description="Alerts of the partition's days sent to the channels of the channels file, once per channel.",
    )
    def alert_deliveries(
        context: AssetExecutionContext, warehouse: WarehouseResource, delivery: DeliveryResource, config: DeliveryConfig
    ) -> MaterializeResult:
        from dashboards.delivery.deliver import deliver_alerts

        window = context.partition_time_window
        first, last = window.start.date(), window.end.date() - timedelta(days=1)
        channels_file = delivery.channels()
        wh = warehouse.get()
        # one delivery at a time over the warehouse: two overlapping runs never both send a message
        with partition_locks(wh, "delivery", ["alerts"]):
            report = deliver_alerts(
                wh.as_role(DELIVERY_ROLE),
                channels_file,
                first,
                last,
                timezone=delivery.reporting_timezone,
                deliver_historical=config.deliver_historical,
                run_id=context.run.run_id,
                log=context.log.info,
            )
        metadata: dict[str, Any] = {
            **report.counts(),
            "channels": ", ".join(channels_file.enabled_channels()) or "none configured",
            "window": f"{first}..{last}",
            "deliver_historical": config.deliver_historical,
        }
        if report.suppressed:
            context.log.info(
                f"{len(report.suppressed)} message(s) of old days not sent (use --deliver-historical to send them)"
            )
        if report.failed:
            raise Failure(
                description=f"{len(report.failed)} alert message(s) could not be delivered: "
                + "; ".join(report.failed[:5])
                + (" ..." if len(report.failed) > 5 else ""),
                metadata={**metadata, "failed": MetadataValue.md("\n".join(f"- {f}" for f in report.failed))},
            )
        if report.audit_errors:
            raise Failure(
                description=f"{len(report.audit_errors)} deliver(ies) not in the audit log: {report.audit_errors[0]}",
                metadata={**metadata, "not audited": MetadataValue.md("\n".join(report.audit_errors))},
            )
        return MaterializeResult(metadata=metadata)

    return alert_deliveries
