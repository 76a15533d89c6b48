"""Every `execmetrics` command the docs show exists, with the options shown: README.md and docs/*.md are read
(fenced code blocks and inline code), and each command line is checked against the CLI itself."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from extract.settings import PROJECT_ROOT
from orchestration.cli import app

DOCS = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
SHELL_BREAKS = {"&&", "||", ";", "|", ">", "2>&1"}


def command_lines(text: str) -> list[str]:
    """The text of every fenced block line and every inline code span that runs `execmetrics`."""
    found = []
    for block in FENCE.findall(text):
        found += [line for line in block.splitlines() if "execmetrics " in line]
    prose = FENCE.sub("", text)
    found += [span for span in INLINE.findall(prose.replace("\n", " ")) if "execmetrics " in span]
    return found


def invocations(line: str) -> list[list[str]]:
    """The words after each `execmetrics` (or `.venv/bin/execmetrics`) in a shell line, up to a shell operator."""
    line = line.split(" #", 1)[0]
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    found = []
    for index, word in enumerate(words):
        before = words[index - 1] if index else None
        # a command: at the start, after a shell operator, a prompt or VAR=value; not "execmetrics" in a sentence
        starts = before is None or before in SHELL_BREAKS | {"$", "time", "sudo"} or re.match(r"^[A-Z_]+=", before)
        if starts and (word == "execmetrics" or word.endswith("/execmetrics")):
            rest = []
            for follower in words[index + 1 :]:
                if follower in SHELL_BREAKS:
                    break
                rest.append(follower)
            found.append(rest)
    return found


def check(words: list[str]) -> list[str]:
    """Problems with one invocation: unknown commands or options (each of a|b, [optional] parts too)."""
    command = typer.main.get_command(app)
    path = ["execmetrics"]
    problems = []
    words = [word.strip("[]") for word in words]
    index = 0
    while index < len(words) and hasattr(command, "commands"):  # a group (typer's own click)
        word = words[index]
        if word.startswith("-"):
            if not _has_option(command, word):
                problems.append(f"{' '.join(path)}: no option {word}")
            index += 1
            continue
        names = word.split("|")
        if not all(name in command.commands for name in names):  # type: ignore[attr-defined]
            if word.isupper() or word.startswith("<") or not word:  # a placeholder: D, <command>
                break
            problems.append(f"{' '.join(path)}: no command {word}")
            return problems
        path.append(names[0])
        command = command.commands[names[0]]  # type: ignore[attr-defined]
        index += 1
    for word in words[index:]:
        if word.startswith("-"):
            for option in word.split("|"):
                if not _has_option(command, option.split("=")[0]):
                    problems.append(f"{' '.join(path)}: no option {option}")
    return problems


def _has_option(command: object, option: str) -> bool:
    params = getattr(command, "params", [])
    return any(option in (*param.opts, *param.secondary_opts) for param in params) or option in ("--help",)


def test_the_docs_show_commands() -> None:
    lines = [line for doc in DOCS for line in command_lines(doc.read_text(encoding="utf-8"))]
    assert len(lines) > 20, "the docs lost their commands, or this test lost them"


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_command_in_the_docs_exists(doc: Path) -> None:
    problems = []
    for line in command_lines(doc.read_text(encoding="utf-8")):
        for words in invocations(line):
            problems += [f"{problem}   (in: {line.strip()})" for problem in check(words)]
    assert problems == []


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("execmetrics build", ["execmetrics: no command build"]),
        (".venv/bin/execmetrics backfill --start D --end D --chunk-days 31", []),
        ("execmetrics backfill --from 2026-01-01", ["execmetrics backfill: no option --from"]),
        ("execmetrics warehouse start|stop|status|url", []),
        ("execmetrics warehouse start|restart", ["execmetrics warehouse: no command start|restart"]),
        ("execmetrics export [--start D] [--pdf|--no-pdf] [--colour]", ["execmetrics export: no option --colour"]),
        ("execmetrics -v demo --tenants 3 && dbt build", []),
        ("STRIPE_API_KEY=sk_test_x execmetrics extract stripe --full-refresh", []),
        ("error: the warehouse is too old; execmetrics needs Postgres 16", []),  # a sentence, not a command
    ],
)
def test_the_checker_catches_what_it_should(line: str, expected: list[str]) -> None:
    assert [problem for words in invocations(line) for problem in check(words)] == expected
