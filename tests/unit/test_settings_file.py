"""The settings files: what load_settings() reads, and save_settings() writing a block that never overrides the user."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from extract.settings import ENV_FILE_VARIABLE, env_files, load_settings, save_settings

DEMO = {"APP_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:54329/app_demo", "STRIPE_DUMP_DIR": "/x/stripe"}


@pytest.fixture
def env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "settings.env"
    monkeypatch.setenv(ENV_FILE_VARIABLE, str(path))
    for key in (*DEMO, "PARTITIONS_START_DATE"):
        monkeypatch.delenv(key, raising=False)
    yield path


def test_written_block_is_read_back(env_file: Path) -> None:
    target, written, kept = save_settings(DEMO, "execmetrics demo")
    assert (target, written, kept) == (env_file, list(DEMO), [])
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    settings = load_settings()
    assert settings.app_database_url == DEMO["APP_DATABASE_URL"]
    assert settings.stripe_dump_dir == Path("/x/stripe")


def test_rewriting_replaces_the_block_and_keeps_the_rest(env_file: Path) -> None:
    env_file.write_text("# mine\nREPORTING_TIMEZONE=Europe/Paris\n")
    save_settings(DEMO, "execmetrics demo")
    save_settings({**DEMO, "STRIPE_DUMP_DIR": "/y/stripe"}, "execmetrics demo")
    text = env_file.read_text()
    assert text.startswith("# mine\nREPORTING_TIMEZONE=Europe/Paris\n")
    assert text.count("# >>> execmetrics demo") == 1 and text.count("# <<< execmetrics demo") == 1
    assert "/x/stripe" not in text and "STRIPE_DUMP_DIR='/y/stripe'" in text
    assert load_settings().reporting_timezone == "Europe/Paris"


def test_never_over_a_value_the_user_set(env_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file.write_text("APP_DATABASE_URL=postgresql://me@replica/app\n")
    monkeypatch.setenv("STRIPE_DUMP_DIR", "/mine/stripe")
    target, written, kept = save_settings({**DEMO, "PARTITIONS_START_DATE": "2025-11-01"}, "execmetrics demo")
    assert written == ["PARTITIONS_START_DATE"]
    assert kept == ["APP_DATABASE_URL", "STRIPE_DUMP_DIR"]
    settings = load_settings()
    assert settings.app_database_url == "postgresql://me@replica/app"
    assert settings.stripe_dump_dir == Path("/mine/stripe")
    assert str(settings.partitions_start_date) == "2025-11-01"


def test_values_with_quotes_and_spaces_survive(env_file: Path) -> None:
    save_settings({"STRIPE_DUMP_DIR": "/data/it's here/stripe"}, "execmetrics demo")
    assert load_settings().stripe_dump_dir == Path("/data/it's here/stripe")


def test_an_empty_variable_means_no_settings_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_FILE_VARIABLE, "")
    assert env_files() == ()
    assert save_settings(DEMO, "execmetrics demo") == (None, [], sorted(DEMO))
    monkeypatch.delenv(ENV_FILE_VARIABLE)
    assert env_files()[0].name == ".env"  # the checkout's .env, then the current folder's
