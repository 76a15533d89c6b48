"""The first hour, as the README has it: the demo without Chromium, then the commands it names next, with no source
variables set (they come from the settings file the demo wrote): a one-day backfill, then `execmetrics ui` in one
terminal while summary, export and `dbt build` run in another, a backfill launched through the UI meanwhile, and
SIGTERM stopping the UI and its processes.

Each command runs as a user runs it: the `execmetrics` entry point in a subprocess, against a fresh warehouse
database; a small demo company (3 tenants, one month) keeps it to minutes. The UI's start overlaps summary and
export, and its backfill overlaps `dbt build`, as they would for a user with two terminals.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
from ui_harness import RunningUi, launch_backfill, wait_for_backfill

from extract.settings import ENV_FILE_VARIABLE, PROJECT_ROOT
from extract.warehouse import Target
from tests.conftest import throwaway_database

pytestmark = pytest.mark.slow

EXECMETRICS = str(Path(sys.executable).parent / "execmetrics")
SOURCE_KEYS = ("APP_DATABASE_URL", "APP_SOURCE_DIR", "STRIPE_API_KEY", "STRIPE_API_BASE", "STRIPE_DUMP_DIR")
FIRST, LAST = "2026-10-01", "2026-10-31"  # the demo company of --months 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def user(pg_server: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A user's environment: a fresh warehouse, no source variables, no Chromium, a settings file of its own."""
    name = "first_" + uuid.uuid4().hex[:10]
    home = tmp_path_factory.mktemp("first_hour")
    env = {key: value for key, value in os.environ.items() if key not in SOURCE_KEYS}
    env.pop("PARTITIONS_START_DATE", None)
    env.update(
        {
            "WAREHOUSE_URL": pg_server.with_db(name).url.replace("+psycopg", ""),
            ENV_FILE_VARIABLE: str(home / ".env"),
            "OUTPUT_DIR": str(home / "out"),
            "DEMO_DIR": str(home / "demo"),
            "LOG_DIR": str(home / "logs"),
            "DAGSTER_HOME": str(home / "dagster_home"),
            "CHROMIUM_PATH": str(home / "no-chromium"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    env["HOME_FOR_TEST"] = str(home)
    with throwaway_database(pg_server, name):
        yield env
    with psycopg.connect(pg_server.with_db("postgres").conninfo, autocommit=True) as conn:
        conn.execute('drop database if exists "app_demo" with (force)')  # the app database the demo created


def run(env: dict[str, str], *args: str, timeout: float = 1500) -> tuple[int, list[str]]:
    done = subprocess.run(
        [EXECMETRICS, *args], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout
    )
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    return done.returncode, lines


@pytest.mark.timeout(1800)  # a demo, a backfill, then the UI and its backfill beside the readers and dbt build
def test_demo_without_chromium_then_the_readme_commands(user: dict[str, str]) -> None:
    home = Path(user["HOME_FOR_TEST"])

    # make demo's command: exit 0, CSV + HTML, one line about the PDF, the sources saved
    code, lines = run(user, "demo", "--tenants", "3", "--months", "1", "--yes")
    assert code == 0, "\n".join(lines)
    assert (home / "out" / "board_pack.html").exists() and any((home / "out" / "csv").glob("*.csv"))
    assert not (home / "out" / "board_pack.pdf").exists()
    assert len([line for line in lines if "PDF" in line and "skipped" in line]) == 1, lines
    assert not any("Traceback" in line or line.startswith("error:") for line in lines), lines
    assert len(lines) <= 70, lines  # steps, the summary table, where to look next: no Dagster or dbt chatter
    assert not any(" DEBUG " in line or "dagster - " in line or "Running with dbt" in line for line in lines), lines
    assert any("the demo's sources are saved in" in line for line in lines), lines
    saved = (home / ".env").read_text()
    assert "APP_DATABASE_URL=" in saved and "STRIPE_DUMP_DIR=" in saved and f"PARTITIONS_START_DATE='{FIRST}'" in saved

    # a one-day backfill, with no source variable set: quiet, and it names its log
    code, lines = run(user, "backfill", "--start", LAST, "--end", LAST)
    assert code == 0, "\n".join(lines)
    assert len(lines) <= 10, lines
    assert not any(" DEBUG " in line or "dagster - " in line for line in lines), lines
    finished = [line for line in lines if line.startswith(f"Backfill {LAST}..{LAST} finished")]
    assert len(finished) == 1, lines
    log = Path(finished[0].rsplit("logs: ", 1)[1])
    assert log.parent == home / "logs"
    assert "Running with dbt" in log.read_text() and "dagster - " in log.read_text()

    # `execmetrics ui` in one terminal; summary, export and dbt build in the other while it starts and runs
    ui = _UiProcess(user, home)
    try:
        code, lines = run(user, "summary", "--start", FIRST, "--end", LAST)
        assert code == 0 and any("execmetrics summary" in line for line in lines), lines
        code, lines = run(user, "export", "--start", FIRST, "--end", LAST)
        assert code == 0 and len([line for line in lines if "PDF" in line and "skipped" in line]) == 1, lines

        running = ui.wait_until_up()
        # a backfill launched through the UI's API runs with the demo's sources, while the analysts' dbt build (from
        # the checkout, on the same warehouse) runs in the other terminal
        raw_app = [["raw", f"app_{table}"] for table in ("tenants", "users", "jobs", "events", "api_requests")]
        backfill_id = launch_backfill(running, "2026-10-30", "2026-10-30", raw_app)
        target = Target.from_url(user["WAREHOUSE_URL"])
        dbt_env = {**user, **target.dbt_env()}
        dbt = subprocess.run(
            [str(Path(sys.executable).parent / "dbt"), "build", "--target-path", str(home / "dbt_target")],
            env={**dbt_env, "DBT_LOG_PATH": str(home / "dbt_logs")},
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        assert dbt.returncode == 0, dbt.stdout[-4000:]
        status = wait_for_backfill(running, backfill_id, timeout=600)
        assert status["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), f"{status}\n{running.logs()}"
    finally:
        ui.sigterm()
    ui.assert_stopped()


class _UiProcess:
    """`execmetrics ui` as a user starts it (a subprocess, its output read line by line); SIGTERM stops it and the
    webserver and daemon it runs."""

    def __init__(self, user: dict[str, str], home: Path) -> None:
        self.user, self.home, self.port = user, home, _free_port()
        self.proc = subprocess.Popen(
            [EXECMETRICS, "ui", "--port", str(self.port)],
            env=user,
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.proc.stdout or []], daemon=True).start()
        self.seen: list[str] = []
        self.children: list[psutil.Process] = []
        self.code: int | None = None

    def wait_until_up(self) -> RunningUi:
        """The daemon is up, the webserver and daemon run as child processes in DAGSTER_HOME; the UI's handle."""
        seen, home = self.seen, self.home
        deadline = time.monotonic() + 300
        while not any(line.startswith("Dagster daemon:") or "warning:" in line for line in seen):
            assert self.proc.poll() is None and time.monotonic() < deadline, seen
            with contextlib.suppress(queue.Empty):
                seen.append(self.lines.get(timeout=5))
        assert any(line.startswith("Dagster daemon: running") for line in seen), seen
        self.children = psutil.Process(self.proc.pid).children(recursive=True)
        assert len(self.children) >= 2, "the webserver and the daemon run as child processes"
        # they run in DAGSTER_HOME: Dagster loads a .env from its working folder over the environment, and the
        # checkout's .env (a developer's demo) must not reach them
        assert {Path(child.cwd()) for child in self.children} == {home / "dagster_home"}
        logs = [home / "dagster_home" / "logs" / name for name in ("webserver.log", "daemon.log")]
        target = Target.from_url(self.user["WAREHOUSE_URL"])
        procs = type("Procs", (), {"logs": logs})()
        return RunningUi(f"http://127.0.0.1:{self.port}", home / "dagster_home", target, self.user, procs)

    def sigterm(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.code = self.proc.wait(timeout=90)

    def assert_stopped(self) -> None:
        assert self.code == 0
        time.sleep(0.5)
        alive = [child.pid for child in self.children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]
        assert alive == [], "SIGTERM left the webserver or the daemon running"
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get())
        assert any("Stopped the Dagster webserver and daemon" in line for line in self.seen + rest), self.seen + rest
