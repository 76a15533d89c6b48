"""Where the embedded warehouse's Postgres binaries and data directory live, and as whom the server runs.

Postgres refuses to run as root, so when root starts the embedded warehouse the server runs as the `pgserver`
system user (the pgserver wheel's convention). That user must reach both the binaries (inside the virtualenv) and
the data directory (under WAREHOUSE_DIR). A checkout often sits under a private folder (root's home is mode 700),
and nothing here ever changes the mode of a directory it did not create. Instead, when the server user cannot
reach a path, what it needs goes under SERVER_HOME (`/var/lib/execmetrics`), which it can reach:

- the binaries: one copy of the wheel's Postgres per build, `SERVER_HOME/postgres-<hash of the postgres binary>`;
- the data: `SERVER_HOME/warehouses/<WAREHOUSE_DIR as a name>-<hash>/pgdata`, and `WAREHOUSE_DIR/pgdata` is a
  link to it, so the warehouse stays keyed by its WAREHOUSE_DIR.

Reachability is asked of the kernel, as the server user (`test -x`), so ACLs and group memberships count.
Run by anyone else, the server runs as that user, from the wheel, with its data in WAREHOUSE_DIR.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import uuid
import warnings
from pathlib import Path

SERVER_USER = "pgserver"
SERVER_HOME = Path("/var/lib/execmetrics")
DATA_LINK = "pgdata"


class LayoutError(RuntimeError):
    """The server user cannot reach something it needs and nothing may be changed to fix it: says what to do."""


def runs_as_server_user() -> bool:
    """True when the server runs as SERVER_USER (we are root), False when it runs as the calling user."""
    return os.geteuid() == 0


def ensure_server_user() -> None:
    import pwd

    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SERVER_USER], check=True, capture_output=True)


def wheel_install() -> Path:
    """The pgserver wheel's Postgres installation (bin/, lib/, share/)."""
    with warnings.catch_warnings():  # pgserver warns at import when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from pgserver._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH).parent


def server_user_can_search(path: Path) -> bool:
    """Whether SERVER_USER can reach into `path` (search permission on it and every parent)."""
    test = shutil.which("test") or "/usr/bin/test"
    try:
        return subprocess.run([test, "-x", str(path)], capture_output=True, **run_as()).returncode == 0  # type: ignore[call-overload]
    except OSError:
        return False


def server_user_can_run(binary: Path) -> bool:
    """Whether SERVER_USER can run `binary` (reach it, and load its libraries)."""
    try:
        result = subprocess.run(  # type: ignore[call-overload]
            [str(binary), "--version"], capture_output=True, timeout=30, **run_as()
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def run_as() -> dict[str, object]:
    """subprocess keyword arguments that run a command as SERVER_USER (its own group, none of root's)."""
    import pwd

    entry = pwd.getpwnam(SERVER_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _make_dir(path: Path, mode: int | None = None) -> None:
    """Create `path` and its missing parents (with `mode` if given: they are ours, just created); existing
    directories are left exactly as they are."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir()
            if mode is not None:
                directory.chmod(mode)


def binaries(install: Path | None = None, home: Path = SERVER_HOME, notes: list[str] | None = None) -> Path:
    """The bin/ folder the server runs from: the wheel's own, or (root, unreachable) a copy under `home`."""
    install = install or wheel_install()
    if not runs_as_server_user():
        return install / "bin"
    ensure_server_user()
    if server_user_can_run(install / "bin" / "initdb"):
        return install / "bin"
    digest = hashlib.sha256((install / "bin" / "postgres").read_bytes()).hexdigest()[:16]
    root = home / f"postgres-{digest}"
    copied = root / "pgserver" / "pginstall"
    if not (root / ".complete").exists():
        _copy_install(install, root, home)
        if notes is not None:
            notes.append(
                f"the server user `{SERVER_USER}` cannot reach {install}: Postgres runs from a copy in {copied}"
            )
    if not server_user_can_run(copied / "bin" / "initdb"):
        raise LayoutError(f"the server user `{SERVER_USER}` cannot run {copied / 'bin'}: let it reach {home}")
    return copied / "bin"


def _copy_install(install: Path, root: Path, home: Path) -> None:
    """Copy the wheel's pginstall/ (and the pgserver.libs/ its binaries load, by relative rpath) to `root`."""
    _make_dir(home, 0o755)
    staging = home / f".postgres-{uuid.uuid4().hex[:8]}"
    try:
        shutil.copytree(install, staging / "pgserver" / "pginstall", symlinks=True)
        libs = install.parent.parent / "pgserver.libs"
        if libs.is_dir():
            shutil.copytree(libs, staging / "pgserver.libs", symlinks=True)
        for directory, _dirs, filenames in os.walk(staging):  # all ours: readable (and runnable) by anyone
            Path(directory).chmod(0o755)
            for name in filenames:
                file = Path(directory) / name
                if not file.is_symlink():
                    file.chmod(0o755 if file.stat().st_mode & 0o100 else 0o644)
        (staging / ".complete").touch()
        try:
            staging.rename(root)
        except OSError:  # another process copied it first
            if not (root / ".complete").exists():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def relocated_data_dir(base_dir: Path, home: Path = SERVER_HOME) -> Path:
    """Where the data of WAREHOUSE_DIR `base_dir` lives when the server user cannot reach it."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", str(base_dir).strip("/"))[-32:].strip("-.") or "warehouse"
    digest = hashlib.sha256(str(base_dir).encode()).hexdigest()[:8]
    # Kept short: the server's unix socket lives in the data directory (socket paths stop at ~107 bytes).
    return home / "warehouses" / f"{name}-{digest}" / "pgdata"


def data_directory(base_dir: Path, home: Path = SERVER_HOME, notes: list[str] | None = None) -> Path:
    """Create (if needed) the data directory of WAREHOUSE_DIR `base_dir` where the server can use it; return it.

    As root: `base_dir/pgdata` when the server user can reach `base_dir`, else a folder under `home` that
    `base_dir/pgdata` links to; owned by the server user. Otherwise `base_dir/pgdata` (initdb makes it private).
    """
    _make_dir(base_dir)
    link = base_dir / DATA_LINK
    if not runs_as_server_user():
        return link
    ensure_server_user()
    if link.is_symlink() or link.exists():
        pgdata = link.resolve()
        if not server_user_can_search(pgdata.parent):
            raise LayoutError(
                f"the server user `{SERVER_USER}` cannot reach the warehouse data in {pgdata} (a parent folder is"
                f" private) and execmetrics changes no folder's permissions: move {base_dir} under a folder it can"
                " reach, or set WAREHOUSE_DIR to such a folder (docs/OPERATIONS.md, 'The embedded warehouse')"
            )
        if not pgdata.exists():  # a link whose target was removed: start again there
            _new_data_dir(pgdata)
        return pgdata
    if server_user_can_search(base_dir):
        _new_data_dir(link)
        return link
    pgdata = relocated_data_dir(base_dir, home)
    _make_dir(pgdata.parent, 0o755)
    if not server_user_can_search(pgdata.parent):
        raise LayoutError(
            f"the server user `{SERVER_USER}` can reach neither {base_dir} nor {pgdata.parent}: let it reach"
            f" {home}, or set WAREHOUSE_DIR to a folder it can reach"
        )
    if not pgdata.exists():
        _new_data_dir(pgdata)
    with contextlib.suppress(FileExistsError):  # another process linked it first
        link.symlink_to(pgdata, target_is_directory=True)
    if notes is not None:
        notes.append(
            f"the server user `{SERVER_USER}` cannot reach {base_dir}: the warehouse data lives in {pgdata}"
            f" ({link} links there)"
        )
    return pgdata


def _new_data_dir(path: Path) -> None:
    import pwd

    entry = pwd.getpwnam(SERVER_USER)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(0o700)
