"""How `execmetrics` talks to a person on a terminal.

- A failure ends in one `error:` line saying what happened and what to do, and a non-zero exit; the traceback only
  with `-v` (`CliGroup`, the top-level command group, does this for every command).
- A long command (`quiet_command`) shows its steps and progress bars over partitions and assets, and sends what
  Dagster, dbt and the libraries log to a file it names at the end; with `-v` all of it comes to the terminal.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup


@dataclass
class _State:
    verbose: bool = False
    log_file: Path | None = None  # the running long command's log, named in its error line


state = _State()


class CommandError(Exception):
    """An expected failure: its message is the whole `error:` line (what happened, what to do)."""


def dagster_log_level() -> str:
    """The level of Dagster's console logger in a long command: everything with -v."""
    return "DEBUG" if state.verbose else "INFO"


def shown_path(path: Path) -> str:
    """A path as the user would type it from the current folder."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def error_line(message: str, file: TextIO | None = None) -> None:
    """Print `error: <message>` as one line (newlines folded, no wrapping) on stderr."""
    text = "; ".join(part.strip() for part in str(message).splitlines() if part.strip()) or "failed"
    Console(file=file or sys.stderr, soft_wrap=True).print(f"[bold red]error:[/] {escape(text)}", highlight=False)


def _module_error(exc: BaseException, module: str, name: str) -> bool:
    """isinstance against a class of a module only if that module is loaded (no import for the check)."""
    loaded = sys.modules.get(module)
    cls = getattr(loaded, name, None) if loaded is not None else None
    return isinstance(cls, type) and isinstance(exc, cls)


# Expected failures whose message already says what happened: (module, class).
EXPECTED = (
    ("orchestration.terminal", "CommandError"),
    ("extract.warehouse", "WarehouseError"),
    ("orchestration.pipeline", "PipelineError"),
    ("orchestration.demo", "DemoError"),
    ("orchestration.summary", "SummaryError"),
    ("dashboards.delivery.config", "ConfigError"),
    ("orchestration.dbt_cli", "DbtError"),
    ("orchestration.assets.dbt", "DbtManifestError"),
    ("orchestration.ui", "UiError"),
    ("extract.stripe.client", "StripeApiError"),
    ("extract.stripe.dump", "DumpError"),
    ("extract.app.sources", "SourceError"),
    ("dashboards.export.pdf", "PdfError"),
    ("dashboards.spec", "SpecError"),
    ("dashboards.metabase.client", "MetabaseError"),
)


def describe(exc: BaseException) -> str:
    """The `error:` line for an exception: its own message when it is an expected failure, else a hint."""
    if any(_module_error(exc, module, name) for module, name in EXPECTED):
        return str(exc)
    if _module_error(exc, "psycopg.errors", "UndefinedTable"):
        return (
            f"{str(exc).splitlines()[0]}: the warehouse has no marts yet; build them with `make demo` or"
            " `execmetrics backfill --start D --end D`"
        )
    if _module_error(exc, "psycopg", "OperationalError"):  # an open connection lost (a failed connect says more)
        return f"lost the connection to the warehouse: {' '.join(str(exc).split())}; is the server still up?"
    if _module_error(exc, "pydantic", "ValidationError"):
        errors: list[dict[str, Any]] = getattr(exc, "errors", lambda: [])()
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ())).upper()}: {e.get('msg')}" for e in errors]
        return "invalid setting: " + "; ".join(parts or [str(exc)])
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}"
    return f"unexpected {type(exc).__name__}: {exc} (run again with -v for the traceback)"


class CliGroup(TyperGroup):
    """The top-level group: every failure, usage errors included, ends in one `error:` line and a non-zero exit."""

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        state.log_file = None
        try:
            result = super().main(
                args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False, **extra
            )
            code = result if isinstance(result, int) else 0
        except typer.TyperException as exc:  # typer's (vendored click's) usage errors
            code = exc.exit_code
            if type(exc).__name__ == "NoArgsIsHelpError":  # the help was asked for by giving no arguments
                print(exc.format_message())
                code = 0
            elif getattr(exc, "ctx", None) is not None:
                error_line(f"{exc.format_message()} (see `{exc.ctx.command_path} --help`)")  # type: ignore[attr-defined]
            else:
                error_line(exc.format_message())
        except typer.Abort:
            error_line("aborted")
            code = 1
        except Exception as exc:  # noqa: BLE001 - every failure ends in one error line
            if state.verbose:
                traceback.print_exc()
            message = describe(exc)
            if state.log_file is not None and str(state.log_file) not in message:
                message += f" (log: {state.log_file})"
            error_line(message)
            code = 1
        if standalone_mode:
            sys.exit(code)
        return code


def configure_logging(verbose: bool) -> None:
    """-v: DEBUG logs on the terminal; otherwise warnings only (a long command sends its logs to its file)."""
    state.verbose = verbose
    level = logging.DEBUG if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)


# ------------------------------------------------------------------------------------------------ long commands


@dataclass
class Display:
    """Steps, progress bars and the log file of one long command."""

    terminal: Console
    log_file: Path | None
    began: float = field(default_factory=time.monotonic)
    progress: Progress | None = None
    _tasks: dict[str, TaskID] = field(default_factory=dict)

    def step(self, message: str) -> None:
        """One line on the terminal: seconds since the start and what is happening."""
        self.terminal.print(f"[dim]{time.monotonic() - self.began:6.1f}s[/] {escape(message)}", highlight=False)

    def print(self, renderable: Any = "", **kwargs: Any) -> None:
        self.terminal.print(renderable, **kwargs)

    def bar(self, key: str, description: str, total: float | None) -> None:
        """Start (or reset) the progress bar `key`."""
        if self.progress is None:
            return
        if key in self._tasks:
            self.progress.reset(self._tasks[key], total=total, description=description)
        else:
            self._tasks[key] = self.progress.add_task(description, total=total)

    def advance(self, key: str, steps: float = 1, description: str | None = None, total: float | None = None) -> None:
        if self.progress is None or key not in self._tasks:
            return
        update: dict[str, Any] = {"advance": steps}
        if description is not None:
            update["description"] = description
        if total is not None:
            update["total"] = total
        self.progress.update(self._tasks[key], **update)

    def done(self, key: str) -> None:
        if self.progress is not None and key in self._tasks:
            self.progress.remove_task(self._tasks.pop(key))

    def run_watcher(self, job: str, first: str, last: str) -> Callable[[Any], None]:
        """A Dagster event listener for one run: a bar over the run's assets (dbt models included), and a line
        when the run ends."""
        key = f"run:{job}:{first}"
        label = f"{job} {first}..{last}" if first != last else f"{job} {first}"
        self.bar(key, label, None)
        planned: set[str] = set()
        done: set[str] = set()
        began = time.monotonic()

        def listen(entry: Any) -> None:
            event = getattr(entry, "dagster_event", None)
            kind = getattr(getattr(event, "event_type", None), "name", None)
            if kind is None:
                return
            asset_key = getattr(event, "asset_key", None)
            asset = asset_key.to_user_string() if asset_key is not None else ""
            if kind == "ASSET_MATERIALIZATION_PLANNED":
                planned.add(asset)
                self.advance(key, 0, total=len(planned))
            elif kind == "STEP_START":
                self.advance(key, 0, description=f"{label}: {event.step_key}")  # type: ignore[union-attr]
            elif kind == "ASSET_MATERIALIZATION" and asset not in done:  # a ranged run reports each partition
                done.add(asset)
                self.advance(key, 1, description=f"{label}: {asset}")
            elif kind in ("RUN_SUCCESS", "RUN_FAILURE"):
                self.done(key)
                outcome = "done" if kind == "RUN_SUCCESS" else "FAILED"
                self.step(f"{label} {outcome}: {len(done)}/{len(planned)} assets in {time.monotonic() - began:.0f}s")

        return listen


def _new_log_file(log_dir: Path, name: str) -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    return log_dir / f"{name}-{datetime.now():%Y%m%d-%H%M%S}.log"


@contextlib.contextmanager
def quiet_command(name: str, log_dir: Path) -> Iterator[Display]:
    """Run a long command: steps and bars on the terminal, everything else into `log_dir/<name>-<time>.log`.

    With -v nothing is redirected: Dagster's, dbt's and the libraries' logs come to the terminal with the steps.
    """
    if state.verbose:
        yield Display(Console(file=sys.stderr, soft_wrap=True), None)
        return
    terminal = Console(file=sys.stderr, soft_wrap=True)
    log_file = _new_log_file(log_dir, name)
    state.log_file = log_file
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=terminal,
        transient=True,
    )
    with log_file.open("a", encoding="utf-8", buffering=1) as sink:
        handler = logging.StreamHandler(sink)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.handlers = [handler]
        root.setLevel(logging.INFO)
        display = Display(terminal, log_file, progress=progress)
        try:
            with progress, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                yield display
        finally:
            root.handlers, root.level = saved_handlers, saved_level
