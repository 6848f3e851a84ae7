"""What an operation shows and asks while it runs: the interface `cli/` implements (its terminal and `--json`
renderings), so that no operation prints, prompts or imports the command line."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..checks.runner import Report
    from ..stacks.engine.events import EventHandler
    from ..stacks.engine.runs import Outcome


class View(Protocol):
    """The person running an operation: lines to show, questions to ask, the engine's progress and outcomes."""

    def say(self, line: str) -> None:
        """A line of the run's story (`running the engine: ...`): shown on a terminal, left out of `--json`."""

    def step(self, line: str) -> None:
        """A step worth seeing in either mode (an upgrade's plan and phases): on stderr under `--json`."""

    def notice(self, line: str) -> None:
        """Something meshinstall found and dealt with before the run (a dead run's lock, a restarted cluster):
        always shown, on stderr."""

    def ask(self, question: str) -> bool:
        """A yes/no question; without a terminal to ask on, the answer is no."""

    def confirm(self, question: str) -> None:
        """Go on only if the person agrees; otherwise stop the operation before it changes anything."""

    def can_ask(self) -> bool:
        """Whether there is a person at a terminal to ask (else `confirm` and `prompt` stop the operation)."""

    def prompt(self, text: str) -> str:
        """A line the person types (the environment's name before `destroy`)."""

    def engine(self, operation: str) -> AbstractContextManager[EventHandler | None]:
        """Around an engine run of `operation` (preview, up, refresh, destroy): the handler of its events (a live
        display), or None."""

    def outcome(self, outcome: Outcome, engine_skipped: str = "") -> None:
        """An engine operation's outcome; `engine_skipped` says why the engine did not need to run."""

    def checks(self, report: Report) -> None:
        """The checks of a phase that did not pass, inside a run (doctor before `up`, verify after it)."""
