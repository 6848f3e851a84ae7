"""One engine operation as a user lives it: what it changed, what failed and why, and what an interrupt left.

The engine's stdout ends with warnings, outputs and a summary; the cause of a failure is in its events (a failed
resource and its error diagnostics). The journal keeps those, and `failure` turns a failed run into one message
that names the resources and their errors, or the one-line cause of a run that could not start.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...errors import (
    EngineFailed,
    EnvironmentLocked,
    Interrupted,
    MeshinstallError,
    StateBackendUnreachable,
    UsageError,
)

if TYPE_CHECKING:
    from pulumi import automation as auto

EventHandler = Callable[["auto.EngineEvent"], None]
CHANGING = ("create", "update", "replace", "delete", "create-replacement", "delete-replaced", "import")
# Causes recognised in the engine's stderr: (text, the error to raise, its message, its hint)
KNOWN_CAUSES: tuple[tuple[str, type[MeshinstallError], str, str], ...] = (
    (
        "incorrect passphrase",
        UsageError,
        "the passphrase does not decrypt this environment's state",
        "set MESHINSTALL_PASSPHRASE to the passphrase the environment was created with",
    ),
    ("passphrase must be set", UsageError, "no passphrase for the state", "export MESHINSTALL_PASSPHRASE=..."),
    (
        "could not deserialize deployment",
        EngineFailed,
        "the state file is unreadable (damaged or cut short)",
        "the backend keeps the previous state beside it as <stack>.json.bak: see `meshinstall repair {env}`",
    ),
    (
        "unexpected end of JSON input",
        EngineFailed,
        "the state file is unreadable (cut short)",
        "the backend keeps the previous state beside it as <stack>.json.bak: see `meshinstall repair {env}`",
    ),
    (
        "no space left on device",
        StateBackendUnreachable,
        "the disk is full (no space left on device) after {changed} change(s) to the cluster; the state records what "
        "was written before",
        "free space where the state is (state.backend), then `meshinstall up {env}` finishes",
    ),
    (
        "the stack is currently locked",
        EnvironmentLocked,
        "the engine's lock on the stack is held",
        "if the run that holds it died, `meshinstall repair {env}` clears it",
    ),
)


UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's stand-in for a value known only once applied


def object_name(type_token: str, inputs: Any, urn: str) -> str:
    """A resource as a person names it, kubectl's way: `Deployment demo/hello`, `Release istio-system/istiod`,
    `Namespace demo` (its Kubernetes name, not the engine's `demo-hello-stable`)."""
    inputs = inputs if isinstance(inputs, dict) else {}
    metadata = inputs.get("metadata") if isinstance(inputs.get("metadata"), dict) else {}
    name = metadata.get("name") or inputs.get("name") or urn.rsplit("::", 1)[-1]
    namespace = metadata.get("namespace") or inputs.get("namespace") or ""
    name, namespace = (v if isinstance(v, str) and v != UNKNOWN else "…" for v in (name, namespace))
    kind = type_token.rsplit(":", 1)[-1]  # a dynamic resource of meshinstall's own (the simulated cluster): Resource
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


@dataclass
class Journal:
    """Counts the changes the engine made and keeps the errors it reported, then passes each event on."""

    show: EventHandler | None = None
    changed: int = 0
    failed: dict[str, list[str]] = field(default_factory=dict)
    # resources per operation (create, same, ...), from the last event
    summary: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Kubernetes objects and Helm releases per operation (the engine's summary counts its providers and wrappers too)
    objects: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0  # the engine's own duration of the operation, from its summary
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: auto.EngineEvent) -> None:
        done, failed, diagnostic = event.res_outputs_event, event.res_op_failed_event, event.diagnostic_event
        with self._lock:
            if event.summary_event:
                self.summary = dict(event.summary_event.resource_changes or {})
                self.seconds = float(event.summary_event.duration_seconds or 0)
            # a custom resource, not a component
            if done and done.metadata.provider and not done.metadata.type.startswith("pulumi:providers:"):
                self.objects[done.metadata.op.value] += 1
                if done.metadata.op.value in CHANGING:
                    self.changed += 1
            if failed:
                self.failed.setdefault(failed.metadata.urn, [])
            if diagnostic and diagnostic.severity == "error":
                self.failed.setdefault(diagnostic.urn or "", []).append(diagnostic.message.strip())
        if self.show:
            try:
                self.show(event)
            except (Exception, SystemExit):  # noqa: BLE001 (a display that fails must not stop the engine's events: rich
                self.show = None  # raises SystemExit when stdout is a closed pipe, as in `up | head`)

    def causes(self) -> list[str]:
        """`type name: error` for each failed resource (the stack's own errors last)."""
        lines = []
        for urn, messages in sorted(
            self.failed.items(), key=lambda item: item[0].endswith("pulumi:pulumi:Stack::") or not item[0]
        ):
            parts = urn.split("::")
            name = f"{parts[-2].split('$')[-1]} {parts[-1]}" if len(parts) >= 2 else "the engine"
            text = (
                " / ".join(
                    dict.fromkeys(
                        m.splitlines()[0] if len(m.splitlines()) == 1 else " ".join(m.split()) for m in messages
                    )
                )
                or "failed"
            )
            lines.append(f"{name}: {text}")
        return lines


@dataclass
class Interrupts:
    """How many times the user interrupted the running operation."""

    count: int = 0


@contextmanager
def cancel_on_interrupt(command: Any, say: Callable[[str], None] | None = None) -> Iterator[Interrupts]:
    """While the block runs the engine, Ctrl-C (or SIGTERM) asks it to cancel instead of killing meshinstall."""
    seen = Interrupts()
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))

    def handler(_signum: int, _frame: Any) -> None:
        seen.count += 1
        if not command.interrupt():  # the engine had ended: the caller stops as soon as the block ends
            return
        if seen.count == 1:
            say(
                "interrupted: the engine finishes what is in flight, saves the state and stops (interrupt again to stop it at once)"
            )
        else:
            say("stopping the engine at once")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield seen
    finally:
        # Once interrupted, meshinstall is on its way out: a later interrupt is counted here rather than raised as
        # KeyboardInterrupt wherever Python happens to be (in a garbage collector's callback, it prints a traceback
        # and is lost).
        for sig, old in previous.items():
            signal.signal(sig, handler if seen.count else old)


def finished_anyway(operation: str, env: str, journal: Journal) -> Interrupted:
    """The error of an operation that was interrupted as the engine ended it: its changes stand, and nothing after it runs."""
    after = f", before its checks (`meshinstall verify {env}` runs them)" if operation == "up" else ""
    return Interrupted(
        f"interrupted as the engine finished: the {operation} is complete, its {journal.changed} change(s) applied and recorded "
        f"in the state; meshinstall stopped there{after}"
    )


# What the engine's file and PostgreSQL backends write after an update completed and its state was saved (pulumi's
# backend/diy `apply`): the error, and what it means to the user.
AFTER_THE_UPDATE = {
    "saving backup: ": "its backup copy of the state could not be written",
    "saving update info: ": "its entry in the history could not be written",
}


def completed_anyway(err: auto.errors.CommandError, journal: Journal) -> str | None:
    """The warning for an update that completed and was saved, whose history entry or backup the backend then failed
    to write (a full disk): the run is a success, not "up failed"; None for any other failure."""
    text = str(err)
    if journal.failed or not journal.summary:
        return None
    for needle, what in AFTER_THE_UPDATE.items():
        if needle in text:
            cause = text[text.index(needle) :].splitlines()[0]
            return f"the update is complete and its state saved, but {what} ({cause})"
    return None


def failure(
    operation: str, env: str, err: auto.errors.CommandError, journal: Journal, interrupts: Interrupts
) -> MeshinstallError:
    """The error a failed engine run becomes: interrupted, a known cause with its hint, or the failed resources."""
    if interrupts.count == 1:
        return Interrupted(
            f"interrupted after {journal.changed} change(s), which the state records; run `meshinstall {operation} {env}` again to finish"
        )
    if interrupts.count > 1:
        return Interrupted(
            f"stopped at once after {journal.changed} change(s): what was in flight is left pending in the state, and the engine's "
            f"lock stays. `meshinstall repair {env}` (or the next `meshinstall up {env}`) clears both and finishes"
        )
    text = str(err)
    for needle, kind, message, hint in KNOWN_CAUSES:
        if needle in text:
            return kind(f"{operation}: {message.format(changed=journal.changed)} (hint: {hint.format(env=env)})")
    causes = journal.causes()
    if causes:
        return EngineFailed(f"{operation} failed after {journal.changed} change(s):\n  " + "\n  ".join(causes))
    lines = [line for line in text.splitlines() if line.strip() and "warning:" not in line]
    return EngineFailed(f"{operation} failed:\n" + "\n".join(lines[-8:]))
