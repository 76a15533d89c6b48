"""Dagster's storage: SQLite under DAGSTER_HOME commits without syncing every event (orchestration/sqlite_storage.py);
Postgres storage (DAGSTER_PG_URL) stores and reads back a run whatever driver the URL names; processes opening a
fresh DAGSTER_HOME together all get its storage."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterEventType, job, op
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from extract.settings import Settings
from extract.warehouse import Target
from orchestration.sqlite_storage import QuickSqliteEventLogStorage, quick_sqlite_commits
from orchestration.ui import get_instance

FULL, NORMAL = 2, 1


def _synchronous_and_wal_kept(path: Path) -> tuple[int, bool]:
    """The `synchronous` level of a new SQLAlchemy connection to `path` (as Dagster opens them), and whether the WAL
    file is still there once that connection has written and closed."""
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    with engine.connect() as conn:
        conn.execute(text("pragma journal_mode=WAL"))
        conn.execute(text("create table if not exists t (x integer)"))
        conn.commit()
    engine.dispose()
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    with engine.connect() as conn, conn.begin():
        level = int(conn.execute(text("pragma synchronous")).scalar_one())
        conn.execute(text("insert into t values (1)"))
    engine.dispose()
    return level, Path(f"{path}-wal").exists()


def test_only_files_under_dagster_home_skip_the_syncs(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    quick_sqlite_commits(home)
    # under DAGSTER_HOME: no sync per commit, and closing a connection no longer checkpoints and deletes the WAL
    assert _synchronous_and_wal_kept(home / "runs.db") == (NORMAL, True)
    # any other SQLite file keeps SQLite's defaults
    assert _synchronous_and_wal_kept(elsewhere / "other.db") == (FULL, False)


def _tiny():  # -> JobDefinition
    @op
    def one() -> int:
        return 1

    @job
    def tiny() -> None:
        one()

    return tiny


def test_a_run_on_the_instance_is_stored_and_read_back(tmp_path: Path) -> None:
    tiny = _tiny()
    settings = Settings(dagster_home=tmp_path / "dagster_home")
    instance = get_instance(settings)
    assert isinstance(instance.event_log_storage, QuickSqliteEventLogStorage)
    # another process's instance (the webserver's, say) keeps its own engines; it still sees every later run
    reader = get_instance(settings)
    assert reader.fetch_run_status_changes(DagsterEventType.RUN_SUCCESS, limit=10).records == []
    result = tiny.execute_in_process(instance=instance)
    assert result.success
    assert instance.all_logs(result.run_id, of_type=DagsterEventType.RUN_SUCCESS)
    assert instance.all_logs(result.run_id, of_type=DagsterEventType.STEP_SUCCESS)
    assert len(reader.all_logs(result.run_id)) == len(instance.all_logs(result.run_id))
    again = tiny.execute_in_process(instance=instance)
    finished = reader.fetch_run_status_changes(DagsterEventType.RUN_SUCCESS, limit=10).records
    assert {record.run_id for record in finished} == {result.run_id, again.run_id}
    shard = tmp_path / "dagster_home" / "history" / "runs" / f"{result.run_id}.db"
    assert shard.exists()
    engine = create_engine(f"sqlite:///{shard}", poolclass=NullPool)
    with engine.connect() as conn:
        assert conn.execute(text("pragma synchronous")).scalar_one() == NORMAL
    engine.dispose()
    # a wipe deletes the run files: the kept connections go with them, and what is written next lands in a new file
    instance.event_log_storage.wipe()
    instance.report_engine_event("after the wipe", job_name="tiny", run_id=again.run_id)
    assert [entry.message for entry in get_instance(settings).all_logs(again.run_id)] == ["after the wipe"]


@pytest.mark.parametrize("driver", ["postgresql", "postgresql+psycopg", "postgresql+psycopg2"])
def test_a_run_is_stored_in_postgres_storage(tmp_path: Path, pg_target: Target, driver: str) -> None:
    url = pg_target.url.replace("postgresql+psycopg", driver, 1)
    instance = get_instance(Settings(dagster_home=tmp_path / "dagster_home", dagster_pg_url=url))
    try:
        result = _tiny().execute_in_process(instance=instance)
        assert result.success
        assert instance.all_logs(result.run_id, of_type=DagsterEventType.RUN_SUCCESS)
        assert [run.run_id for run in instance.get_runs()] == [result.run_id]
    finally:
        instance.dispose()
    engine = create_engine(url.replace(driver, "postgresql+psycopg", 1), poolclass=NullPool)
    with engine.connect() as conn:  # in the database itself, not in files under DAGSTER_HOME
        assert conn.execute(text("select count(*) from runs")).scalar_one() == 1
    engine.dispose()
    assert not list((tmp_path / "dagster_home").rglob("*.db"))


def _open_instance(homes: list[str], barrier: Any, answers: Any) -> None:
    from orchestration.ui import get_instance

    for home in homes:
        barrier.wait()  # every process opens the same fresh DAGSTER_HOME at once
        try:
            get_instance(Settings(dagster_home=Path(home))).dispose()
            answers.put("ok")
        except Exception as exc:  # noqa: BLE001 - the answer names any failure
            answers.put(f"{type(exc).__name__}: {exc}"[:300])


def test_processes_opening_a_fresh_dagster_home_together_all_get_its_storage(tmp_path: Path) -> None:
    # The UI and a CLI backfill started together: without a lock, most such rounds failed for one of them.
    homes = [str(tmp_path / f"home{i}") for i in range(3)]
    context = multiprocessing.get_context("spawn")
    barrier, answers = context.Barrier(3), context.Queue()
    processes = [context.Process(target=_open_instance, args=(homes, barrier, answers)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
    assert [answers.get(timeout=5) for _ in range(9)] == ["ok"] * 9
    for home in homes:
        instance = get_instance(Settings(dagster_home=Path(home)))
        assert instance.get_runs() == []
        instance.dispose()
