"""How results look to a person (rich) and to a machine (JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from ..errors import SpecProblem

if TYPE_CHECKING:
    from ..checks.runner import Report

OPERATIONS = ("create", "update", "replace", "delete", "same")


def console(stderr: bool = False) -> Console:
    """A console that wraps nothing (paths and messages stay on one line for editors and CI)."""
    return Console(stderr=stderr, soft_wrap=True, highlight=False)


def problems(out: Console, items: Iterable[SpecProblem]) -> None:
    """One `file:line:col: $.path: message (hint)` line per problem, then a count."""
    items = list(items)
    for item in items:
        out.print(str(item), markup=False)
    out.print(f"{len(items)} problem{'s' if len(items) != 1 else ''} found", style="bold red")


def as_json(data: Any) -> str:
    """Stable JSON for machines."""
    return json.dumps(data, indent=2, sort_keys=True, default=str)


def summary(out: Console, title: str, changes: Mapping[str, int]) -> None:
    """A table of resource counts per operation."""
    table = Table(title=title, show_edge=False)
    table.add_column("operation")
    table.add_column("resources", justify="right")
    for op in sorted(changes, key=lambda o: OPERATIONS.index(o) if o in OPERATIONS else 99):
        table.add_row(op, str(changes[op]))
    out.print(table)


def outputs(out: Console, values: Mapping[str, Any]) -> None:
    """Stack outputs as a two-column table."""
    table = Table(show_edge=False)
    table.add_column("output")
    table.add_column("value")
    for key in sorted(values):
        value = values[key]
        table.add_row(key, value if isinstance(value, str) else json.dumps(value, sort_keys=True))
    out.print(table)


class Progress:
    """A live per-resource display fed by the engine's events."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self.rows: dict[str, tuple[str, str, str]] = {}
        self.live = Live(self._table(), console=out, refresh_per_second=4, transient=False) if out.is_terminal else None

    def __enter__(self) -> Progress:
        if self.live:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live:
            self.live.__exit__(*exc)

    def __call__(self, event: Any) -> None:
        pre, done, failed = event.resource_pre_event, event.res_outputs_event, event.res_op_failed_event
        for payload, state in ((pre, "running"), (done, "done"), (failed, "failed")):
            if payload is None:
                continue
            meta = payload.metadata
            if meta.type == "pulumi:pulumi:Stack" or meta.op.value in ("same", "read"):
                continue
            name = meta.urn.rsplit("::", 1)[-1]
            self.rows[meta.urn] = (name, meta.type, f"{meta.op.value} {state}")
            if self.live:
                self.live.update(self._table())
            elif state != "running":
                self.out.print(f"{meta.op.value:>8} {state:<7} {meta.type} {name}", markup=False)

    def _table(self) -> Table:
        table = Table(show_edge=False)
        for column in ("resource", "type", "status"):
            table.add_column(column)
        for name, kind, state in list(self.rows.values())[-25:]:
            table.add_row(name, kind, state)
        return table


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
