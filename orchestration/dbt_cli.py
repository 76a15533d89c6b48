"""Run dbt in-process against a warehouse target (used by the CLI's analyst helpers and by the tests)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from extract.settings import PROJECT_ROOT
from extract.warehouse import Target


class DbtError(RuntimeError):
    pass


SPARK_MODULES = ("pyspark", "dbt.adapters.spark", "pyarrow")
JAVA_MIN = 17


def _java_major() -> int | None:
    java = shutil.which("java")
    if java is None:
        return None
    try:
        shown = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', shown)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def spark_engine_problem() -> str | None:
    """Why dbt cannot build on the `spark` target here (the spark extra or Java missing), else None."""
    missing = []
    for module in SPARK_MODULES:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(module.split(".")[-1] if module.startswith("dbt.") else module)
    if missing:
        return f"DBT_TARGET=spark needs the spark extra ({', '.join(missing)} not installed): pip install -e '.[spark]'"
    major = _java_major()
    if major is None or major < JAVA_MIN:
        seen = "no java on PATH" if major is None else f"java {major} on PATH"
        return f"DBT_TARGET=spark needs Java {JAVA_MIN} or later ({seen}): install a JDK, e.g. openjdk-17-jre-headless"
    return None


@contextmanager
def environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block (dbt reads its profile's env_var() from here)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def dbt_base_env(target: Target, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {**target.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    env.update(extra or {})
    return env


def run_dbt(
    args: list[str],
    target: Target,
    dbt_vars: Mapping[str, Any] | None = None,
    target_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    raise_on_failure: bool = True,
) -> Any:
    """`dbt <args>` from the project root; returns dbt's result object, raising DbtError on failure."""
    from dbt.cli.main import dbtRunner

    cli_args = [*args, "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT)]
    if target_path is not None:
        cli_args += ["--target-path", str(target_path)]
    if dbt_vars:
        cli_args += ["--vars", json.dumps(dict(dbt_vars), default=str)]
    with environ(dbt_base_env(target, env)):
        result = dbtRunner().invoke(cli_args)
    if raise_on_failure and not result.success:
        failures = []
        for node in getattr(result.result, "results", None) or []:
            if str(node.status) not in ("success", "pass", "skipped"):
                failures.append(f"{node.node.unique_id}: {node.status}: {node.message}")
        detail = "\n".join(failures) or str(result.exception)
        raise DbtError(f"dbt {' '.join(args)} failed:\n{detail}")
    return result
