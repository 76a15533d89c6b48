"""The one settings object. Read once from the environment (and `.env` if present); never at import time."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

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
    dagster_home: Path = PROJECT_ROOT / ".dagster"
    dagster_pg_url: str | None = None
    ui_port: int = 3000

    # Outputs
    output_dir: Path = PROJECT_ROOT / "out"
    demo_dir: Path = PROJECT_ROOT / ".demo"

    app_lookback_hours: int = Field(default=48, description="re-read window for late append-only rows")
    future_tolerance_minutes: int = Field(
        default=10, description="rows dated beyond the load's clock plus this are rejected as in the future"
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()
