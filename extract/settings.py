"""The one settings object. Read once from the environment and the settings files; never at import time.

Settings files (`KEY=value` lines, read after the environment, which wins): EXECMETRICS_ENV_FILE when it is set
(empty: none), else the checkout's `.env` and then the current folder's `.env`. `execmetrics demo` saves its
sources in a block of the first one (`save_settings`), so the commands after it find them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    # Settings() reads the environment only; get_settings() adds the settings files.
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    # Warehouse: WAREHOUSE_URL wins; otherwise the embedded pgserver under warehouse_dir.
    warehouse_url: str | None = None
    warehouse_dir: Path = PROJECT_ROOT / ".warehouse"
    warehouse_port: int = 54329
    warehouse_db: str = "execmetrics"

    # Sources
    app_database_url: str | None = None  # the app's read replica (SQLAlchemy URL)
    app_source_dir: Path | None = None  # or a folder of <table>.jsonl|csv exports
    stripe_dump_dir: Path | None = None  # a Stripe JSON dump (history; the demo writes one)
    stripe_api_key: SecretStr | None = None
    stripe_api_base: str | None = None
    stripe_max_requests_per_second: float = 20.0

    # Reporting
    reporting_timezone: str = "UTC"
    reporting_currency: str = "USD"

    # Orchestration
    partitions_start_date: date | None = None  # the first daily partition (default: orchestration/partitions.py)
    dagster_home: Path = PROJECT_ROOT / ".dagster"
    dagster_pg_url: str | None = None
    ui_port: int = 3000

    # Outputs
    output_dir: Path = PROJECT_ROOT / "out"
    demo_dir: Path = PROJECT_ROOT / ".demo"
    log_dir: Path = PROJECT_ROOT / "logs"  # Dagster's and dbt's logs of the long commands

    app_lookback_hours: int = Field(default=48, description="re-read window for late append-only rows")
    future_tolerance_minutes: int = Field(
        default=10, description="rows dated beyond the load's clock plus this are rejected as in the future"
    )


ENV_FILE_VARIABLE = "EXECMETRICS_ENV_FILE"

_current: Settings | None = None


def env_files() -> tuple[Path, ...]:
    """The settings files, in reading order (a later file wins over an earlier one; the environment over both)."""
    chosen = os.environ.get(ENV_FILE_VARIABLE)
    if chosen is not None:
        return (Path(chosen),) if chosen.strip() else ()
    return (PROJECT_ROOT / ".env", Path(".env"))


def get_settings() -> Settings:
    """The process's settings: built once by the entry point (or here, from the environment and settings files)."""
    global _current
    if _current is None:
        _current = Settings(_env_file=env_files() or None)  # type: ignore[call-arg]
    return _current


def use_settings(settings: Settings) -> None:
    """Make `settings` the process's settings (an entry point that built its own: the demo's sources)."""
    global _current
    _current = settings


def reset_settings() -> None:
    """Forget the settings: the next get_settings() reads the environment and settings files again."""
    global _current
    _current = None


# ------------------------------------------------------------------------------------------------ saving

_KEY = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def _block_marks(name: str) -> tuple[str, str]:
    return f"# >>> {name} (rewritten by each run; set a key outside this block to keep your own value)", f"# <<< {name}"


def _quote(value: str) -> str:
    if "'" not in value and "\n" not in value:
        return f"'{value}'"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def save_settings(
    values: Mapping[str, str], block: str, environ: Mapping[str, str] | None = None
) -> tuple[Path | None, list[str], list[str]]:
    """Write `values` into the block named `block` of the first settings file, never overriding a value the user
    set: a key set in the environment, or in a settings file outside this block, is left out (and reported).

    Returns (the file or None when EXECMETRICS_ENV_FILE is empty, keys written, keys kept from the user)."""
    environ = os.environ if environ is None else environ
    files = env_files()
    if not files:
        return None, [], sorted(values)
    target = files[0]
    begin, end = _block_marks(block)
    lines = target.read_text(encoding="utf-8").splitlines() if target.exists() else []
    outside: list[str] = []
    inside = False
    for line in lines:
        if line.startswith(begin.split(" (")[0]):
            inside = True
        elif inside and line.startswith(end):
            inside = False
        elif not inside:
            outside.append(line)
    user_keys = {key for key in values if key in environ}
    for path in files:
        text = "\n".join(outside) if path == target else (path.read_text(encoding="utf-8") if path.is_file() else "")
        for line in text.splitlines():
            match = _KEY.match(line)
            if match and match.group(1) in values:
                user_keys.add(match.group(1))
    written = [key for key in values if key not in user_keys]
    while outside and not outside[-1].strip():
        outside.pop()
    new = [*outside, *([""] if outside else [])]
    if written:
        new += [begin, *(f"{key}={_quote(values[key])}" for key in written), end]
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = not target.exists()
    target.write_text("\n".join(new) + "\n", encoding="utf-8")
    if fresh:
        target.chmod(0o600)  # it may hold credentials (a warehouse URL with its password)
    return target, written, sorted(user_keys)
