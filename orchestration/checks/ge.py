"""Great Expectations suites on the raw tables (placeholder until the suites land)."""

from __future__ import annotations


def build_ge_checks() -> list:
    return []
