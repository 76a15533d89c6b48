"""The Dagster instance (DAGSTER_HOME) and `execmetrics ui`: dagster-webserver + dagster-daemon on 127.0.0.1.

DAGSTER_HOME (settings.dagster_home, default `.dagster/` at the repo root) gets a `dagster.yaml` written by
`write_dagster_yaml()`: SQLite storage by default (the event log through orchestration/sqlite_storage.py), Postgres
storage (dagster-postgres) when DAGSTER_PG_URL is set; a queued run coordinator that never runs two runs of the same
partition at once; run retries for crashed runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml  # type: ignore[import-untyped]

from extract.settings import PROJECT_ROOT, Settings

# One "materialization planned" event per asset for a ranged (single-run backfill) run instead of one per asset and
# partition: with SQLite storage a 365-day run otherwise spends minutes writing ~30k planned events before its first
# step. Trade-off (Dagster's): partitions of a failed ranged run are not individually marked failed.
PLANNED_EVENTS_ENV = {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true"}


def plan_ranges_in_one_event() -> None:
    """Apply PLANNED_EVENTS_ENV to this process (Dagster reads it when a run is created), unless set otherwise."""
    for key, value in PLANNED_EVENTS_ENV.items():
        os.environ.setdefault(key, value)


class UiError(RuntimeError):
    """dagster-webserver or dagster-daemon did not start (the message names its log)."""


MARKER = "# written by execmetrics (orchestration/ui.py); edits are overwritten"
WORKSPACE_FILE = "workspace.yaml"


def dagster_yaml(settings: Settings) -> dict[str, object]:
    config: dict[str, object] = {
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "max_concurrent_runs": 4,
                "dequeue_interval_seconds": 1,
                "tag_concurrency_limits": [
                    # Two runs of the same partition (or starting at the same partition) never run at once;
                    # overlapping ranges are serialized by the Postgres advisory locks the assets take.
                    {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
                    {
                        "key": "dagster/asset_partition_range_start",
                        "value": {"applyLimitPerUniqueValue": True},
                        "limit": 1,
                    },
                ],
            },
        },
        # A run whose process died (not a failed step: steps retry themselves on transient errors) is retried once.
        "run_retries": {"enabled": True, "max_retries": 1, "retry_on_asset_or_op_failure": False},
        "telemetry": {"enabled": False},
        "nux": {"enabled": False},
    }
    if settings.dagster_pg_url:
        config["storage"] = {"postgres": {"postgres_url": dagster_storage_url(settings.dagster_pg_url)}}
    else:
        # Dagster's default SQLite files, the event log through orchestration/sqlite_storage.py's class
        config["event_log_storage"] = {
            "module": "orchestration.sqlite_storage",
            "class": "QuickSqliteEventLogStorage",
            "config": {"base_dir": str(Path(settings.dagster_home).resolve() / "history" / "runs")},
        }
    return config


def dagster_storage_url(url: str) -> str:
    """DAGSTER_PG_URL with the psycopg2 driver: dagster-postgres sends `NOTIFY <channel>, :id`, which only a driver
    that binds parameters on the client can run, and SQLAlchemy 2.1 reads a bare `postgresql://` with psycopg 3
    (whose server-side `$1` Postgres refuses in NOTIFY)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url
    return parsed.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)


def write_dagster_yaml(settings: Settings) -> Path:
    """Create DAGSTER_HOME and (re)write its dagster.yaml + workspace.yaml; returns DAGSTER_HOME."""
    home = Path(settings.dagster_home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    text = MARKER + "\n" + yaml.safe_dump(dagster_yaml(settings), sort_keys=False)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_text() != text:
        if target.exists() and not target.read_text().startswith(MARKER):
            target.rename(home / f"dagster.yaml.bak-{int(time.time())}")
        tmp = home / "dagster.yaml.tmp"
        tmp.write_text(text)
        tmp.replace(target)
    workspace = {
        "load_from": [
            {
                "python_module": {
                    "module_name": "orchestration.definitions",
                    "working_directory": str(PROJECT_ROOT),
                    "location_name": "execmetrics",
                }
            }
        ]
    }
    ws_text = yaml.safe_dump(workspace, sort_keys=False)
    ws = home / WORKSPACE_FILE
    if not ws.exists() or ws.read_text() != ws_text:
        ws.write_text(ws_text)
    return home


def get_instance(settings: Settings):  # -> DagsterInstance
    """The persistent instance in DAGSTER_HOME (what the UI shows), its storage created.

    Processes starting together on a fresh DAGSTER_HOME (`execmetrics ui` and a CLI backfill in two terminals) would
    each create the SQLite schemas: the losers fail ("table runs already exists") or leave the storage's migration
    history with two heads. One process at a time writes dagster.yaml and opens every storage, under a lock on a file
    in DAGSTER_HOME; the next finds them made."""
    from dagster import DagsterInstance

    from orchestration.sqlite_storage import quick_sqlite_commits

    home = Path(settings.dagster_home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".instance.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        write_dagster_yaml(settings)
        plan_ranges_in_one_event()
        quick_sqlite_commits(home)
        instance = DagsterInstance.from_config(str(home))
        instance.get_runs(limit=1)
        instance.event_log_storage.get_asset_records()
        instance.schedule_storage.all_instigator_state()  # type: ignore[union-attr]
    return instance


# ------------------------------------------------------------------------------------------------ processes


@dataclass
class UiProcesses:
    url: str
    home: Path
    webserver: subprocess.Popen[bytes]
    daemon: subprocess.Popen[bytes]
    logs: list[Path] = field(default_factory=list)

    def alive(self) -> dict[str, bool]:
        return {"webserver": self.webserver.poll() is None, "daemon": self.daemon.poll() is None}

    def stop(self, timeout: float = 20) -> None:
        for proc in (self.daemon, self.webserver):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in (self.daemon, self.webserver):
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def process_env(settings: Settings, home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["DAGSTER_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))
    env.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    for key, value in PLANNED_EVENTS_ENV.items():
        env.setdefault(key, value)
    env.update(extra or {})
    return env


def start_ui(
    settings: Settings,
    port: int | None = None,
    log_dir: Path | None = None,
    env: dict[str, str] | None = None,
    wait_seconds: float = 180,
    progress: Callable[[str], None] | None = None,
) -> UiProcesses:
    """Start dagster-webserver and dagster-daemon (own process groups) and wait until the webserver answers."""
    port = port or settings.ui_port
    # The storage is created here, before the webserver and the daemon start (they would race to create it).
    get_instance(settings).dispose()
    home = Path(settings.dagster_home).resolve()
    # Build the manifest once up front, so the webserver, daemon and run workers find it fresh.
    from orchestration.assets.dbt import dbt_project, prepare_manifest

    prepare_manifest(settings, dbt_project(settings))
    log_dir = log_dir or home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    full_env = process_env(settings, home, env)
    workspace = str(home / WORKSPACE_FILE)
    # Both run in DAGSTER_HOME, not the checkout: Dagster's CLI loads a `.env` from its working folder into the
    # environment (over what is set there), while our settings read the same files with the environment first.
    # Run there, the webserver, the daemon, their code servers and runs read settings as every command does.
    web_log = log_dir / "webserver.log"
    daemon_log = log_dir / "daemon.log"
    webserver = subprocess.Popen(
        [_bin("dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", workspace],
        cwd=home,
        env=full_env,
        stdout=web_log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    daemon = subprocess.Popen(
        [_bin("dagster-daemon"), "run", "-w", workspace],
        cwd=home,
        env=full_env,
        stdout=daemon_log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    procs = UiProcesses(f"http://127.0.0.1:{port}", home, webserver, daemon, [web_log, daemon_log])
    try:
        _wait_for_webserver(procs, wait_seconds)
    except BaseException:  # a failed start, Ctrl-C or SIGTERM while waiting: leave nothing running
        procs.stop()
        raise
    if progress:
        progress(f"Dagster UI on {procs.url} (DAGSTER_HOME={home})")
    return procs


def _wait_for_webserver(procs: UiProcesses, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    while True:
        if procs.webserver.poll() is not None:
            raise UiError(f"dagster-webserver exited ({procs.webserver.returncode}); see {procs.logs[0]}")
        if procs.daemon.poll() is not None:
            raise UiError(f"dagster-daemon exited ({procs.daemon.returncode}); see {procs.logs[1]}")
        try:
            with urllib.request.urlopen(procs.url + "/server_info", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise UiError(f"dagster-webserver did not answer on {procs.url} within {wait_seconds:.0f}s")
        time.sleep(0.5)


def daemon_healthy(url: str, timeout: float = 5) -> tuple[bool, str]:
    """Ask the webserver whether the daemon's heartbeats are fresh (schedules and backfills need it)."""
    import json

    query = "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"
    request = urllib.request.Request(
        url + "/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = json.loads(response.read())
    statuses = body["data"]["instance"]["daemonHealth"]["allDaemonStatuses"]
    unhealthy = [s["daemonType"] for s in statuses if s["required"] and not s["healthy"]]
    return (not unhealthy, ", ".join(unhealthy) or "all daemons healthy")


class _Stop(Exception):
    """SIGTERM or SIGHUP: stop like Ctrl-C."""


def _stop_on_signal(signum: int, frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def serve_ui(settings: Settings, port: int | None, say: Callable[[str], None], warn: Callable[[str], None]) -> None:
    """`execmetrics ui`: start the webserver and the daemon, say where, warn when the daemon is not healthy, and
    keep them running until Ctrl-C, SIGTERM or SIGHUP (then stop both); UiError when either stops on its own."""
    from extract.warehouse import Warehouse, start_warehouse

    start_warehouse(Warehouse(settings), lambda text: warn(f"note: {text}"))
    # A supervisor (or `kill`) stops it as Ctrl-C does: the webserver and the daemon stop with it.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop_on_signal)
    procs = None
    try:
        procs = start_ui(settings, port=port)
        storage = "Postgres (DAGSTER_PG_URL)" if settings.dagster_pg_url else "SQLite"
        logs = procs.home / "logs"
        say(f"Dagster UI: {procs.url}   (DAGSTER_HOME={procs.home}, {storage} storage; logs in {logs})")
        say("Ctrl-C (or SIGTERM) stops the webserver and the daemon.")
        deadline = time.monotonic() + 90
        healthy, detail = False, "no heartbeat yet"
        while time.monotonic() < deadline and procs.alive()["daemon"]:
            try:
                healthy, detail = daemon_healthy(procs.url)
            except OSError as exc:
                detail = f"webserver not answering: {exc}"
            if healthy:
                break
            time.sleep(3)
        if healthy:
            say("Dagster daemon: running (schedules and backfills will run).")
        else:
            warn(
                f"[bold yellow]warning:[/] the Dagster daemon is not healthy ({detail}): schedules and backfills"
                f" will not run; see {procs.logs[1]}"
            )
        while True:
            time.sleep(5)
            alive = procs.alive()
            if not alive["webserver"]:
                raise UiError(f"dagster-webserver stopped; see {procs.logs[0]}")
            if not alive["daemon"]:
                raise UiError(f"the Dagster daemon stopped (schedules and backfills need it); see {procs.logs[1]}")
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # stopping is not interrupted by a second signal
        if procs is not None:
            procs.stop()
            say("Stopped the Dagster webserver and daemon.")
