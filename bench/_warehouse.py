"""The warehouse a benchmark loads into: WAREHOUSE_URL if set, else a throw-away embedded Postgres."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from extract.settings import Settings
from extract.warehouse import EmbeddedServer, Target, Warehouse


@contextmanager
def bench_warehouse(work: Path, port: int) -> Iterator[tuple[Warehouse, Target]]:
    server = None
    if os.environ.get("WAREHOUSE_URL"):
        target = Target.from_url(os.environ["WAREHOUSE_URL"])
    else:
        server = EmbeddedServer(work / "pg", port)
        server.start()
        target = Target("127.0.0.1", server.port, "postgres", "", "postgres")
    try:
        yield Warehouse(Settings(warehouse_url=target.url.replace("+psycopg", ""))), target
    finally:
        if server is not None:
            server.stop()
