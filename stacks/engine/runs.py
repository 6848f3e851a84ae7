"""The engine's operations on an environment's stack (preview, up, refresh, destroy) and its status: a Ctrl-C asks
the engine to cancel, a failure names its resources and their errors, and each returns an `Outcome`."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..state.lock import holder_record
from ..state.recorded import RECORDING_OUTPUTS
from .environment import engine_call, read_state
from .events import EventHandler, Journal, cancel_on_interrupt, completed_anyway, failure, finished_anyway

if TYPE_CHECKING:
    from pulumi import automation as auto

# Resource operations at once. Most of an operation is waiting on the API server (a Deployment until it is
# available), so the engine's default of 4 per core left a 2-core machine with 8 waits in flight.
PARALLEL = 64
# Python's cycle collector while the engine runs the program: a first generation of 10,000 objects instead of 700.
# The program makes objects by the hundred thousand (outputs, futures, requests), and at the default thresholds the
# collector ran 1,054 times during an add of 100 apps, 1.7-2.1 s of the program's thread; with these and the
# objects loaded before frozen, 85 times and 0.4-0.5 s, for the same peak (bench/results.md, stop 24).
ENGINE_GC_THRESHOLDS = (10_000, 10, 10)


@dataclass(frozen=True)
class Outcome:
    """What an operation did: counts per operation kind, the stack outputs, and the engine's summary."""

    operation: str
    changes: Mapping[str, int]
    outputs: Mapping[str, Any] = field(default_factory=dict)
    result: str = "succeeded"
    warnings: tuple[str, ...] = ()  # what went wrong around an operation that succeeded (a backup not written)
    objects: Mapping[str, int] = field(default_factory=dict)  # Kubernetes objects and releases per operation
    seconds: float = 0.0  # how long the engine ran

    @property
    def changed(self) -> int:
        """How many resources were (or would be) created, updated, replaced or deleted."""
        return sum(n for op, n in self.changes.items() if op not in ("same", "read"))


def _outcome(operation: str, journal: Journal, outputs: Mapping[str, Any] | None = None) -> Outcome:
    return Outcome(
        operation,
        journal.summary,
        outputs or {},
        warnings=tuple(journal.warnings),
        objects=dict(journal.objects),
        seconds=journal.seconds,
    )


def who() -> str:
    """What each update records as its message, for `meshinstall history`: the command, and who ran it where."""
    me = holder_record()
    return f"{me['command']} by {me['user']}@{me['host']}"


def _operation(
    stack: auto.Stack,
    operation: str,
    run: Callable[[EventHandler], Any],
    on_event: EventHandler | None,
    named: str | None = None,
) -> Journal:
    """Run an engine operation: a Ctrl-C asks the engine to cancel, and a failure names its resources and their errors
    (stacks/engine/events.py). Its journal holds the changes, from the engine's summary event."""
    from pulumi import automation as auto

    _collect_cycles()
    journal = Journal(on_event)
    with cancel_on_interrupt(stack.workspace.pulumi_command) as interrupts, _no_read_back(stack, operation):
        try:
            run(journal)
        except auto.errors.CommandError as err:
            warning = completed_anyway(err, journal)
            if warning is None or interrupts.count:
                raise failure(operation, named or stack.name, err, journal, interrupts) from err
            journal.warnings.append(warning)
    if interrupts.count:
        raise finished_anyway(operation, named or stack.name, journal)
    return journal


def _collect_cycles() -> None:
    """The cycle collector on, for the engine's runs: the command line runs without it until the first (cli/main.py
    `main`). What the command loaded before that (the modules, the spec, the state) is frozen, never walked again;
    the garbage of one run (a canary upgrade makes several) is collected as usual."""
    if gc.isenabled():
        return
    gc.freeze()
    gc.set_threshold(*ENGINE_GC_THRESHOLDS)
    gc.enable()


@contextmanager
def _no_read_back(stack: auto.Stack, operation: str) -> Iterator[None]:
    """Without the engine runs by which the Automation API reads back what an `up`, `refresh` or `destroy` has just
    reported in its events: `stack output --show-secrets` and `stack history`, each one more start of the engine that
    loads and decrypts the state (1.1 s after an `up` at 100 apps, bench/results.md). The changes come from the
    engine's summary event, and the outputs from the state (`read_state`)."""
    from pulumi import automation as auto

    stack.outputs = dict  # type: ignore[method-assign]
    stack.info = lambda *_: auto.UpdateSummary(operation, datetime.now(timezone.utc), "", {}, {}, "succeeded")  # type: ignore[method-assign]
    try:
        yield
    finally:
        del stack.outputs, stack.info


def preview(
    stack: auto.Stack,
    on_event: EventHandler | None = None,
    expect_no_changes: bool = False,
    refresh: bool = False,
    named: str | None = None,
) -> Outcome:
    """What `up` would change."""
    journal = _operation(
        stack,
        "preview",
        lambda events: stack.preview(
            on_event=events, parallel=PARALLEL, expect_no_changes=expect_no_changes, refresh=refresh, color="never"
        ),
        on_event,
        named,
    )
    return _outcome("preview", journal)


def up(
    stack: auto.Stack, on_event: EventHandler | None = None, refresh: bool = True, named: str | None = None
) -> Outcome:
    """Apply the spec; like `terraform apply`, it first refreshes, so hand-made changes (drift) are put back."""
    journal = _operation(
        stack,
        "up",
        lambda events: stack.up(on_event=events, parallel=PARALLEL, refresh=refresh, color="never", message=who()),
        on_event,
        named,
    )
    return _outcome("up", journal, read_state(stack).outputs)


def refresh(stack: auto.Stack, on_event: EventHandler | None = None, named: str | None = None) -> Outcome:
    """Read the cluster back into the state; reports drift."""
    journal = _operation(
        stack,
        "refresh",
        lambda events: stack.refresh(on_event=events, parallel=PARALLEL, color="never", message=who()),
        on_event,
        named,
    )
    return _outcome("refresh", journal)


def destroy(stack: auto.Stack, on_event: EventHandler | None = None, named: str | None = None) -> Outcome:
    """Remove everything the stack created."""
    journal = _operation(
        stack,
        "destroy",
        lambda events: stack.destroy(on_event=events, parallel=PARALLEL, color="never", message=who()),
        on_event,
        named,
    )
    return _outcome("destroy", journal)


def status(stack: auto.Stack) -> dict[str, Any]:
    """Outputs (secrets masked) and the last update."""
    history = engine_call("status", lambda: stack.history(page_size=1), stack.name)
    last = history[0] if history else None
    return {
        "environment": stack.name,
        "outputs": _plain(engine_call("status", stack.outputs, stack.name)),
        "lastUpdate": None
        if last is None
        else {
            "kind": last.kind,
            "result": last.result,
            "started": last.start_time.isoformat(),
            "ended": last.end_time.isoformat() if last.end_time else None,
            "changes": dict(last.resource_changes or {}),
        },
    }


def _plain(outputs: Mapping[str, auto.OutputValue]) -> dict[str, Any]:
    return {k: ("[secret]" if v.secret else v.value) for k, v in outputs.items() if k not in RECORDING_OUTPUTS}
