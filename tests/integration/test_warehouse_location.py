"""The embedded warehouse starts from a checkout under a private (mode 700) folder, with its data inside or outside
the checkout, and changes no folder's permissions on the way.

Run as root (the server then runs as the `pgserver` user, who cannot reach a private folder). The "checkout" is a
private folder holding a copy of the wheel's Postgres where a virtualenv would have it, as a clone in root's home
would; the server home (normally /var/lib/execmetrics) is a fresh folder per test.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from extract import server_layout as layout
from extract.warehouse import EmbeddedServer, Target, WarehouseError

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the server-user layout applies when root runs it")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _modes(*roots: Path) -> dict[Path, int]:
    """The mode of every ancestor of each root, and of every folder under it."""
    seen: dict[Path, int] = {}
    for root in roots:
        for parent in [root, *root.parents]:
            if parent.exists():
                seen[parent] = stat.S_IMODE(parent.stat().st_mode)
        for directory, _dirs, _files in os.walk(root):
            seen[Path(directory)] = stat.S_IMODE(os.stat(directory).st_mode)
    return seen


def _changed(before: dict[Path, int], after: dict[Path, int]) -> dict[str, tuple[str, str]]:
    return {str(path): (oct(mode), oct(after[path])) for path, mode in before.items() if after.get(path, mode) != mode}


@pytest.fixture
def private_checkout() -> Iterator[Path]:
    """/tmp/<random>/checkout, the random folder mode 700, with the wheel's Postgres inside its .venv."""
    private = Path(tempfile.mkdtemp(prefix="execmetrics-private-"))
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    checkout = private / "checkout"
    site = checkout / ".venv" / "lib" / "python3.11" / "site-packages"
    wheel = layout.wheel_install()
    shutil.copytree(wheel, site / "pgserver" / "pginstall", symlinks=True)
    if (wheel.parent.parent / "pgserver.libs").is_dir():
        shutil.copytree(wheel.parent.parent / "pgserver.libs", site / "pgserver.libs", symlinks=True)
    yield checkout
    shutil.rmtree(private, ignore_errors=True)


@pytest.fixture
def server_home() -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="em-"))  # short: the server's socket sits in the data directory
    home.chmod(0o755)  # created here: what /var/lib is
    yield home / "em"
    shutil.rmtree(home, ignore_errors=True)


def _install(checkout: Path) -> Path:
    return checkout / ".venv" / "lib" / "python3.11" / "site-packages" / "pgserver" / "pginstall"


def _start_and_query(server: EmbeddedServer) -> str:
    assert server.start() is True
    try:
        target = Target("127.0.0.1", server.port, "postgres", "", "postgres")
        with psycopg.connect(target.conninfo) as conn:
            return str(conn.execute("select current_setting('data_directory')").fetchone()[0])  # type: ignore[index]
    finally:
        assert server.stop() is True


def test_layout_sees_the_private_folder(private_checkout: Path) -> None:
    assert not layout.server_user_can_search(private_checkout)
    assert not layout.server_user_can_run(_install(private_checkout) / "bin" / "initdb")
    assert layout.server_user_can_search(Path("/tmp"))


def test_data_inside_a_private_checkout(private_checkout: Path, server_home: Path) -> None:
    base = private_checkout / ".warehouse"
    before = _modes(private_checkout.parent)
    server = EmbeddedServer(base, free_port(), install_dir=_install(private_checkout), server_home=server_home)

    data_directory = _start_and_query(server)

    assert _changed(before, _modes(private_checkout.parent)) == {}
    expected = layout.relocated_data_dir(base.resolve(), server_home)
    assert Path(data_directory) == expected == server.pgdata
    assert (base / "pgdata").is_symlink() and (base / "pgdata").resolve() == expected
    assert expected.stat().st_uid == layout.run_as()["user"] and stat.S_IMODE(expected.stat().st_mode) == 0o700
    # the binaries ran from one copy under the server home, and both moves were said once
    assert [path.name for path in server_home.glob("postgres-*")] != []
    assert len(server.notes) == 2 and all("cannot reach" in note for note in server.notes)

    again = EmbeddedServer(base, server.port, install_dir=_install(private_checkout), server_home=server_home)
    assert _start_and_query(again) == data_directory  # the same warehouse: keyed by its WAREHOUSE_DIR
    assert again.notes == []


def test_data_outside_the_checkout_in_a_reachable_folder(private_checkout: Path, server_home: Path) -> None:
    outside = Path(tempfile.mkdtemp(prefix="execmetrics-data-"))
    outside.chmod(0o755)  # created here; a shared data folder such as /srv/execmetrics
    try:
        base = outside / "warehouse"
        before = _modes(private_checkout.parent, outside)
        server = EmbeddedServer(base, free_port(), install_dir=_install(private_checkout), server_home=server_home)

        data_directory = _start_and_query(server)

        assert _changed(before, _modes(private_checkout.parent, outside)) == {}
        assert Path(data_directory) == base / "pgdata"  # kept where it was asked for: no link
        assert not (base / "pgdata").is_symlink()
        assert not (server_home / "warehouses").exists()
    finally:
        shutil.rmtree(outside, ignore_errors=True)


def test_data_outside_the_checkout_in_another_private_folder(private_checkout: Path, server_home: Path) -> None:
    elsewhere = Path(tempfile.mkdtemp(prefix="execmetrics-private-data-"))
    try:
        base = elsewhere / "nested" / "warehouse"
        before = _modes(private_checkout.parent, elsewhere)
        server = EmbeddedServer(base, free_port(), install_dir=_install(private_checkout), server_home=server_home)

        data_directory = _start_and_query(server)

        assert _changed(before, _modes(private_checkout.parent, elsewhere)) == {}
        assert Path(data_directory) == layout.relocated_data_dir(base.resolve(), server_home)
        assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o700
    finally:
        shutil.rmtree(elsewhere, ignore_errors=True)


def test_unreachable_existing_data_asks_what_to_change(private_checkout: Path, server_home: Path) -> None:
    base = private_checkout / ".warehouse"
    (base / "pgdata").mkdir(parents=True)  # data left in place by an older layout
    before = _modes(private_checkout.parent)
    server = EmbeddedServer(base, free_port(), install_dir=_install(private_checkout), server_home=server_home)

    with pytest.raises(WarehouseError) as caught:
        server.start()

    message = str(caught.value)
    assert "\n" not in message
    assert "cannot reach the warehouse data" in message and "WAREHOUSE_DIR" in message
    assert _changed(before, _modes(private_checkout.parent)) == {}
