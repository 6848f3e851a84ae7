"""The Automation API as meshinstall runs it: the engine's process and the workspace of a stack.

Only an engine run imports this module, and with it the Pulumi SDK (0.2 s): an `up` that finds nothing to do
never does (stacks/engine/unchanged.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from typing import Any

from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult, OnOutput
from pulumi.automation.errors import create_command_error


def _cancel_when_parent_dies() -> list[str]:
    """A prefix that makes the kernel send the engine SIGINT (cancel) when meshinstall dies, however it dies:
    util-linux's `setpriv --pdeathsig`, which survives the exec (a preexec_fn could deadlock the fork of a process
    that runs gRPC threads). Without setpriv, the next command's recovery stops an orphaned engine instead."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "INT", "--"] if setpriv else []


# The engine's operations. meshinstall reads their events, never their text, so they run with `--output=json`: the
# engine then prints one line of summary instead of its progress display, which kept every resource's full old and
# new state until the end (at 7,000 resources, most of the engine's memory; bench/results.md, issue 8).
OPERATIONS = {"up", "preview", "refresh", "destroy"}


# How often meshinstall, waiting for the engine, looks for an interrupt that reached another of its threads.
INTERRUPT_POLL_SECONDS = 0.2


def _wait_interruptibly(process: subprocess.Popen[str]) -> int:
    """The engine's exit code, waited for in slices. Python runs a signal handler in the main thread only, and a
    blocking wait there returns to Python only when the kernel delivers the signal to that thread. A process's signal
    may go to any of its threads (gRPC's, the event reader's), and then a Ctrl-C would wait for the engine to end:
    with Deployments in flight, never (CI saw it). Each slice ends in Python, which runs the handler."""
    while True:
        try:
            return process.wait(timeout=INTERRUPT_POLL_SECONDS)
        except subprocess.TimeoutExpired:
            continue


class EngineCommand(auto.PulumiCommand):
    """The Pulumi CLI as meshinstall runs it, so that an interrupt or a killed meshinstall leaves a clean stack:
    - in a session of its own: a terminal's Ctrl-C reaches meshinstall only, which asks the engine once to cancel
      (the engine ends at once, leaving its lock, on a second interrupt);
    - told by the kernel to cancel when meshinstall dies;
    - with its output in files rather than pipes, so that a cancel after meshinstall's death is not cut short by
      a broken pipe. The Automation API reads the engine's events over gRPC, not from this output."""

    running: subprocess.Popen[str] | None = None

    def run(
        self,
        args: list[str],
        cwd: str,
        additional_env: Mapping[str, str],
        on_output: OnOutput | None = None,
        on_error: OnOutput | None = None,
    ) -> CommandResult:
        separator = args.index("--") if "--" in args else len(args)
        flags, rest = args[:separator], args[separator:]
        if "--non-interactive" not in flags:
            flags = ["--non-interactive", *flags]
        if next((a for a in flags if not a.startswith("-")), None) in OPERATIONS and "--json" not in flags:
            flags.append("--output=json")
        args = [*flags, *rest]
        env = {**os.environ, **additional_env, "PULUMI_AUTOMATION_API": "true"}
        env["PATH"] = os.pathsep.join([os.path.dirname(self.command), env.get("PATH", "")])
        with (
            tempfile.TemporaryFile("w+", encoding="utf-8") as out,
            tempfile.TemporaryFile("w+", encoding="utf-8") as err,
        ):
            self.running = subprocess.Popen(
                [*_cancel_when_parent_dies(), self.command, *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
            try:
                code = _wait_interruptibly(self.running)
            finally:
                self.running = None
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        for callback, text in ((on_output, stdout), (on_error, stderr)):
            for line in text.splitlines() if callback else ():
                callback(line.rstrip())
        result = CommandResult(stdout=stdout.rstrip("\n"), stderr=stderr.rstrip("\n"), code=code)
        if code != 0:
            raise create_command_error(result)
        return result

    def interrupt(self) -> bool:
        """Ask the running engine to cancel (a second call makes it stop at once); False when none runs."""
        process = self.running
        if process is None or process.poll() is not None:
            return False
        process.send_signal(signal.SIGINT)
        return True


class Workspace(auto.LocalWorkspace):
    """The Automation API's workspace, but a stack whose state the backend holds (`saved`) is selected without an
    engine run: every operation names its stack (`--stack`), so `pulumi stack select` would only check that it
    exists (0.2 s of each command)."""

    def __init__(self, saved: bool, **options: Any) -> None:
        super().__init__(**options)
        self.saved = saved

    def select_stack(self, stack_name: str) -> None:
        if not self.saved:
            super().select_stack(stack_name)
