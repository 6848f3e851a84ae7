"""How results look to a person (rich) and to a machine (JSON)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from ..errors import SpecProblem, UsageError

if TYPE_CHECKING:
    from ..checks.runner import Report
    from ..stacks.engine.runs import Outcome


NO_TERMINAL_WIDTH = 1000  # a file or a pipe has no width: tables take what their values need, never cut at 80


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """Output into a pipe that closed early (`up | head -1`): the rest of the output goes nowhere, and the command
        goes on to its end (rich's own exits, which would stop an `up` before or in the middle of its update)."""
        self.quiet = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, (sys.stderr if self.stderr else sys.stdout).fileno())


def console(stderr: bool = False) -> Console:
    """A console that wraps nothing (paths and messages stay on one line for editors and CI), and, without a
    terminal, cuts no table to 80 columns."""
    out = _Console(stderr=stderr, soft_wrap=True, highlight=False)
    if not out.is_terminal:
        out.width = NO_TERMINAL_WIDTH
    return out


def write(path: Path, data: bytes, folders: bool = False) -> None:
    """A command's `--out FILE` (its folders made first when `folders`): a folder that is missing or may not be
    written is a usage error naming the file, not a traceback."""
    try:
        if folders:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as err:
        raise UsageError(
            f"--out {path}: cannot write it ({err.strerror}); give a file in a folder that exists"
        ) from err


def problems(out: Console, items: Iterable[SpecProblem]) -> None:
    """One `file:line:col: $.path: message (hint)` line per problem, then a count."""
    items = list(items)
    for item in items:
        out.print(str(item), markup=False)
    out.print(f"{len(items)} problem{'s' if len(items) != 1 else ''} found", style="bold red")


def as_json(data: Any) -> str:
    """Stable JSON for machines."""
    return json.dumps(data, indent=2, sort_keys=True, default=str)


# An operation's changes once done
DONE_WORDS = {
    "create": "created",
    "update": "updated",
    "replace": "replaced",
    "delete": "deleted",
    "import": "imported",
}


def outcome_line(outcome: Outcome) -> str:
    """`up: 3 change(s): 2 created, 1 updated; 45 unchanged; 12.4 s`: the Kubernetes objects and Helm releases (the
    engine's own count when it gave none), in a preview's words for a preview."""
    counts = outcome.objects or outcome.changes
    changes = [(op, counts[op]) for op in DONE_WORDS if counts.get(op)]
    line = f"{outcome.operation}: {sum(n for _, n in changes)} change(s)"
    if changes:
        preview = outcome.operation == "preview"
        line += ": " + ", ".join(f"{n} to {op}" if preview else f"{n} {DONE_WORDS[op]}" for op, n in changes)
    if counts.get("same"):
        line += f"; {counts['same']} unchanged"
    if outcome.seconds:
        line += f"; {outcome.seconds:.1f} s"
    return line


def outputs(out: Console, values: Mapping[str, Any]) -> None:
    """Stack outputs as `key: value` lines, whole (a table cut them at the terminal's width, and at 80 columns
    without a terminal); a mapping's entries one per line beneath its key."""
    for key in sorted(values):
        value = values[key]
        if isinstance(value, dict) and value:
            out.print(f"{key}:", markup=False)
            for inner in sorted(value):
                shown = value[inner] if isinstance(value[inner], str) else json.dumps(value[inner], sort_keys=True)
                out.print(f"  {inner}: {shown}", markup=False)
        else:
            out.print(f"{key}: {value if isinstance(value, str) else json.dumps(value, sort_keys=True)}", markup=False)


MARKS = {"passed": ("√", "green"), "failed": ("×", "red"), "warning": ("‼", "yellow"), "skipped": ("-", "dim")}


def report(out: Console, result: Report) -> None:
    """Checks grouped like `linkerd check`: one line each, details and hints under failures, then the counts."""
    group = None
    for item in result.results:
        if item.group != group:
            group = item.group
            out.print(f"\n{group}\n{'-' * len(group)}", markup=False)
        mark, style = MARKS[item.status.value]
        out.print(f"[{style}]{mark}[/] {item.check_id} {item.title}", highlight=False)
        if item.status.value != "passed" and item.message:
            out.print(f"    {item.target}: {item.message}", markup=False)
        if item.hint:
            out.print(f"    hint: {item.hint} (docs/checks/{item.check_id}.md)", markup=False)
    counts = result.counts()
    out.print("\n" + ", ".join(f"{n} {k}" for k, n in counts.items() if n), markup=False)


def history(out: Console, env: str, entries: list[dict[str, Any]]) -> None:
    """`meshinstall history`: one row per update, newest first."""
    if not entries:
        out.print(f"{env} has no updates yet")
        return
    table = Table(title=f"updates of {env}", title_justify="left")
    for column in ("started", "took", "who", "kind", "result", "changes"):
        table.add_column(column)
    for entry in entries:
        started = datetime.fromisoformat(entry["started"])
        took = f"{(datetime.fromisoformat(entry['ended']) - started).total_seconds():.0f}s" if entry["ended"] else "-"
        changes = ", ".join(f"{op} {n}" for op, n in sorted(entry["changes"].items())) or "-"
        table.add_row(
            f"{started:%Y-%m-%d %H:%M:%S}", took, entry["who"] or "?", entry["kind"], entry["result"], changes
        )
    out.print(table)


def state_snippet(url: str, password_env: str | None) -> str:
    """The `state:` lines to paste into a spec for backend `url` (and its password's variable)."""
    lines = ["state:", f'  backend: "{url}"']
    if password_env:
        lines.append(f"  password: {{fromEnv: {password_env}}}")
    return "\n".join(lines) + "\n"
