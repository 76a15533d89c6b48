"""Run the pipeline in-process through the Dagster definitions (the same assets the UI and the schedules run).

`run_pipeline(start, end)` runs the daily job once over the whole partition range start..end (one run: the extract
assets and the daily dbt models take the window at once, BackfillPolicy.single_run()), then the monthly job once
over the months touching that range. Both runs are recorded in DAGSTER_HOME, so the UI shows them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from orchestration.partitions import day_keys, month_keys

Progress = Callable[[str], None]
# Called as a run starts with (job, first partition, last partition); returns a listener for that run's events.
RunWatcher = Callable[[str, str, str], Callable[[Any], None]]


class PipelineError(RuntimeError):
    """A run of the pipeline failed (a step error or a failed blocking check); the message says which and why."""

    def __init__(self, message: str, run_id: str | None = None, failures: list[str] | None = None):
        super().__init__(message)
        self.run_id = run_id
        self.failures = failures or []


@dataclass
class CheckOutcome:
    passed: bool
    severity: str
    description: str | None
    metadata: dict[str, Any]


@dataclass
class RunSummary:
    job: str
    run_id: str
    partitions: tuple[str, str]
    duration_s: float
    success: bool


@dataclass
class PipelineResult:
    start: date
    end: date
    runs: list[RunSummary] = field(default_factory=list)
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)  # "raw/app_events" → metadata of its result
    checks: dict[str, CheckOutcome] = field(default_factory=dict)  # "raw/app_events:ge_errors" → outcome
    duration_s: float = 0.0

    @property
    def row_counts(self) -> dict[str, int]:
        counts = {}
        for key, metadata in self.assets.items():
            value = metadata.get("dagster/row_count", metadata.get("rows_loaded"))
            if isinstance(value, int):
                counts[key] = value
        return counts

    @property
    def failed_checks(self) -> dict[str, CheckOutcome]:
        return {key: outcome for key, outcome in self.checks.items() if not outcome.passed}

    @property
    def run_ids(self) -> list[str]:
        return [run.run_id for run in self.runs]


def _plain(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {key: getattr(value, "value", value) for key, value in metadata.items()}


def _run_config(
    job_def: Any, full_refresh: bool, log_level: str | None = None, deliver_historical: bool = False
) -> dict[str, Any]:
    from orchestration.assets import delivery_asset

    config: dict[str, Any] = {}
    if log_level is not None:
        config["loggers"] = {"console": {"config": {"log_level": log_level}}}
    ops = {}
    for node in job_def.graph.node_defs:
        if full_refresh and node.name in ("extract_app", "extract_stripe", "dbt_daily", "dbt_monthly"):
            ops[node.name] = {"config": {"full_refresh": True}}
        if deliver_historical and node.name == delivery_asset().op.name:
            ops[node.name] = {"config": {"deliver_historical": True}}
    return {**config, "ops": ops} if ops else config


def root_message(error: Any) -> str:
    """The innermost cause's message, without its class path (Dagster wraps a step's exception in its own)."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    text = " ".join((error.message or "").split())
    name = getattr(error, "cls_name", None)
    if name and f"{name}: " in text[: len(name) + 200]:
        text = text[text.index(f"{name}: ") + len(name) + 2 :]
    return text or "(no error message)"


def _describe_failures(result: Any) -> list[str]:
    from dagster import DagsterEventType

    failures = []
    for event in result.all_events:
        if event.event_type == DagsterEventType.STEP_FAILURE:
            data: Any = event.event_specific_data
            message = root_message(data.error) if data.error else "(no error message)"
            failures.append(f"step {event.step_key} failed: {message}")
    return failures


def execute_range(
    job_name: str,
    first: str,
    last: str,
    *,
    full_refresh: bool = False,
    instance: Any = None,
    result: PipelineResult | None = None,
    tags: Mapping[str, str] | None = None,
    asset_selection: list[Any] | None = None,
    log_level: str | None = None,
    watch: RunWatcher | None = None,
    deliver_historical: bool = False,
) -> Any:
    """One in-process run of `job_name` over the partition range first..last; returns Dagster's result."""
    from dagster import DagsterEventType
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
    from dagster._core.utils import make_new_run_id

    from orchestration.definitions import build_definitions
    from orchestration.ui import get_instance, plan_ranges_in_one_event

    job_def = build_definitions().resolve_job_def(job_name)
    instance = instance or get_instance()
    plan_ranges_in_one_event()  # also for an instance handed in (the demo's in-memory one)
    run_tags = {"execmetrics/launched_by": "pipeline", **(tags or {})}
    partition_key = None
    if first == last:
        partition_key = first
    else:
        run_tags.update({ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last})
    run_id = make_new_run_id()
    if watch is not None:
        instance.add_event_listener(run_id, watch(job_name, first, last))
    began = time.monotonic()
    outcome = job_def.execute_in_process(
        run_config=_run_config(job_def, full_refresh, log_level, deliver_historical),
        instance=instance,
        partition_key=partition_key,
        tags=run_tags,
        raise_on_error=False,
        asset_selection=asset_selection,
        run_id=run_id,
    )
    if result is not None:
        result.runs.append(
            RunSummary(job_name, outcome.run_id, (first, last), round(time.monotonic() - began, 3), outcome.success)
        )
        for event in outcome.all_events:
            if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                materialization = cast(Any, event.event_specific_data).materialization
                result.assets[materialization.asset_key.to_user_string()] = _plain(materialization.metadata)
            elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                evaluation: Any = event.event_specific_data
                key = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
                result.checks[key] = CheckOutcome(
                    passed=bool(evaluation.passed),
                    severity=str(getattr(evaluation.severity, "value", evaluation.severity)),
                    description=evaluation.description,
                    metadata=_plain(evaluation.metadata),
                )
    return outcome


def check_failure_line(key: str, description: str | None, metadata: Mapping[str, Any]) -> str:
    """How a failed check is told: `check raw/app_tenants:ge_errors failed: <description> <the failing rows>`."""
    return " ".join(f"check {key} failed: {description or ''} {metadata.get('failures', '')}".split())


def failed_blocking_checks(instance: Any, run_id: str) -> list[str]:
    """The lines of the run's failed blocking (ERROR) checks, from the instance's event log."""
    from dagster import DagsterEventType

    lines = []
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation: Any = entry.dagster_event.event_specific_data
        if evaluation.passed or str(getattr(evaluation.severity, "value", evaluation.severity)) != "ERROR":
            continue
        key = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        lines.append(check_failure_line(key, evaluation.description, _plain(evaluation.metadata)))
    return lines


def _raise_for(outcome: Any, job_name: str, first: str, last: str, result: PipelineResult) -> None:
    failures = _describe_failures(outcome)
    blocking = [
        check_failure_line(key, check.description, check.metadata)
        for key, check in result.failed_checks.items()
        if check.severity == "ERROR"
    ]
    if outcome.success and not blocking:
        return
    lines = failures + blocking
    raise PipelineError(
        f"{job_name} over {first}..{last} failed (run {outcome.run_id}): " + "; ".join(lines or ["unknown error"]),
        run_id=outcome.run_id,
        failures=lines,
    )


def run_pipeline(
    start: date,
    end: date,
    *,
    full_refresh: bool = False,
    progress: Progress | None = None,
    instance: Any = None,
    include_monthly: bool = True,
    log_level: str | None = None,
    watch: RunWatcher | None = None,
    deliver_historical: bool = False,
) -> PipelineResult:
    """Extract app + Stripe, check them, build the daily dbt models over start..end and deliver their alerts (one
    run; alerts of old days only with deliver_historical), then the monthly models over the months touching it (one
    run; skipped with include_monthly=False). Raises PipelineError with the reason on any failure."""
    from orchestration.definitions import build_definitions
    from orchestration.jobs import DAILY_JOB, MONTHLY_JOB
    from orchestration.partitions import daily_partitions
    from orchestration.ui import get_instance

    say = progress or (lambda message: None)
    began = time.monotonic()
    defs = build_definitions()
    instance = instance or get_instance()
    days = day_keys(start, end)
    available = daily_partitions()
    first_available = available.get_first_partition_key()
    if first_available is None or days[0] < first_available:
        raise PipelineError(
            f"{days[0]} is before the first daily partition {first_available}; set PARTITIONS_START_DATE earlier"
        )
    last_available = available.get_last_partition_key()
    if last_available is None or days[-1] > last_available:
        raise PipelineError(f"{days[-1]} is after the last daily partition {last_available} (today)")
    result = PipelineResult(start, end)

    say(f"daily job: {len(days)} partition(s) {days[0]}..{days[-1]} in one run")
    outcome = execute_range(
        DAILY_JOB,
        days[0],
        days[-1],
        full_refresh=full_refresh,
        instance=instance,
        result=result,
        log_level=log_level,
        watch=watch,
        deliver_historical=deliver_historical,
    )
    _raise_for(outcome, DAILY_JOB, days[0], days[-1], result)

    if include_monthly and any(job.name == MONTHLY_JOB for job in defs.resolve_all_job_defs()):
        months = month_keys(start, end)
        say(f"monthly job: {len(months)} partition(s) {months[0][:7]}..{months[-1][:7]} in one run")
        outcome = execute_range(
            MONTHLY_JOB,
            months[0],
            months[-1],
            full_refresh=full_refresh,
            instance=instance,
            result=result,
            log_level=log_level,
            watch=watch,
        )
        _raise_for(outcome, MONTHLY_JOB, months[0], months[-1], result)
    result.duration_s = round(time.monotonic() - began, 3)
    say(f"pipeline done in {result.duration_s:.1f}s ({len(result.runs)} runs)")
    return result
