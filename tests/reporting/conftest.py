"""Fixtures of the reporting-layer tests: the dbt test helpers (a fresh warehouse, raw inserts, dbt runs) and the
demo-sized warehouse every card, export and summary test shares (built once per session, tests/conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent / "dbt"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
