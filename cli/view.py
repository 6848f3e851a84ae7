"""The operations' view on a terminal: lines on stdout or stderr, questions through click, the engine's live
display, outcomes as tables or (with `--json`) as JSON on stdout."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from ..errors import UsageError
from . import render

if TYPE_CHECKING:  # the command line loads neither the checks nor the engine's side before an operation does
    from ..checks.runner import Report
    from ..stacks.engine.events import EventHandler
    from ..stacks.engine.runs import Outcome


@dataclass(frozen=True)
class TerminalView:
    """operations.view.View for the command line; `as_json` keeps stdout for the JSON result."""

    as_json: bool = False

    def say(self, line: str) -> None:
        if not self.as_json:
            render.console().print(line, markup=False)

    def step(self, line: str) -> None:
        render.console(stderr=self.as_json).print(line, markup=False)

    def notice(self, line: str) -> None:
        render.console(stderr=True).print(line, markup=False)

    def ask(self, question: str) -> bool:
        return sys.stdin.isatty() and click.confirm(question, default=False, err=True)  # no terminal to ask on: no

    def confirm(self, question: str) -> None:
        self._terminal_for(question)
        click.confirm(question, abort=True, err=True)  # on the terminal: never into a redirected stdout

    def can_ask(self) -> bool:
        return sys.stdin.isatty()

    def prompt(self, text: str) -> str:
        self._terminal_for(text)
        return str(click.prompt(text, err=True))

    def _terminal_for(self, question: str) -> None:
        """A question needs a person at a terminal; without one (CI, a pipe into stdin) the command stops at once,
        naming what it would have asked, rather than wait or take the silence for an answer."""
        if not self.can_ask():
            raise UsageError(
                f"no terminal to ask on: {question.rstrip('?:')} — run it from a terminal, or with --yes to go on "
                "without asking; nothing was changed"
            )

    def engine(self, operation: str) -> AbstractContextManager[EventHandler | None]:
        return nullcontext() if self.as_json else self._live(operation)

    @contextmanager
    def _live(self, operation: str) -> Iterator[EventHandler]:
        from .progress import EngineProgress

        with EngineProgress(render.console(), operation) as progress:
            yield progress

    def outcome(self, outcome: Outcome, engine_skipped: str = "") -> None:
        if self.as_json:
            extra = {"engineSkipped": engine_skipped} if engine_skipped else {}
            click.echo(
                render.as_json(
                    {
                        "operation": outcome.operation,
                        "result": outcome.result,
                        "changes": outcome.changes,
                        "objects": outcome.objects,
                        "outputs": outcome.outputs,
                        **extra,
                    }
                )
            )
            return
        out = render.console()
        if engine_skipped:
            out.print(f"{engine_skipped}: the engine was not started", markup=False)
        out.print(render.outcome_line(outcome), markup=False)
        if outcome.outputs:
            render.outputs(out, outcome.outputs)

    def checks(self, report: Report) -> None:
        render.report(render.console(stderr=True), report)
