"""stacks/engine/automation.py: how meshinstall runs the engine's CLI."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from meshinstall.stacks.engine.automation import EngineCommand

# Prints its arguments as JSON (and a version when asked), like a pulumi that does nothing.
FAKE_PULUMI = """#!/bin/sh
[ "$1" = version ] && { echo v3.274.1; exit 0; }
python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@"
"""


@pytest.fixture
def engine(tmp_path):
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text(FAKE_PULUMI)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    command = EngineCommand(root=str(tmp_path), skip_version_check=True)
    return lambda *args: json.loads(command.run(list(args), str(tmp_path), {}).stdout)


@pytest.mark.parametrize("operation", ["up", "preview", "refresh", "destroy"])
def test_operations_run_without_the_progress_display(engine, operation):
    """The progress display kept every resource's old and new state until the end of an operation: most of the
    engine's memory at 1000 apps. meshinstall reads events, so an operation prints one summary line instead."""
    args = engine(operation, "--yes", "--stack", "dev", "--", "program-arg")
    assert args[0] == "--non-interactive" and args[1] == operation
    assert args.index("--output=json") < args.index("--")


def test_other_commands_and_a_json_preview_keep_their_output(engine):
    assert "--output=json" not in engine("stack", "history", "--json")
    assert "--output=json" not in engine("preview", "--json")
    assert engine("up", "--non-interactive").count("--non-interactive") == 1


def test_the_engine_runs_under_a_memory_limit_unless_the_user_set_their_own(tmp_path, monkeypatch):
    from meshinstall.stacks.engine.environment import (
        ENGINE_MEMORY_LIMIT,
        PROVIDER_LIMIT_FROM_APPS,
        PROVIDER_MEMORY_LIMIT_MIB,
        Places,
        engine_env,
    )

    place = Places(tmp_path, tmp_path / "work", tmp_path / "home", f"file://{tmp_path}")
    monkeypatch.delenv("GOMEMLIMIT", raising=False)
    large = engine_env(place, "passphrase", apps=PROVIDER_LIMIT_FROM_APPS)
    assert large["GOMEMLIMIT"] == ENGINE_MEMORY_LIMIT
    assert large["MESHINSTALL_PROVIDER_MEMORY_LIMIT_MIB"] == str(PROVIDER_MEMORY_LIMIT_MIB)  # the provider's own, lower
    small = engine_env(place, "passphrase", apps=100)  # the provider under the engine's limit: it collects less often
    assert small["GOMEMLIMIT"] == ENGINE_MEMORY_LIMIT and "MESHINSTALL_PROVIDER_MEMORY_LIMIT_MIB" not in small
    monkeypatch.setenv("GOMEMLIMIT", "3GiB")
    env = engine_env(place, "passphrase", apps=PROVIDER_LIMIT_FROM_APPS)
    assert env["GOMEMLIMIT"] == "3GiB" and "MESHINSTALL_PROVIDER_MEMORY_LIMIT_MIB" not in env  # the user's, for all


def test_the_engines_version_is_asked_once_per_binary(tmp_path, monkeypatch):
    """Doctor's MI004 asks the engine's version; the binary takes 0.18 s of a core to start, so its answer is kept
    until the binary changes."""
    from meshinstall.stacks.engine import toolchain as found

    monkeypatch.setenv("MESHINSTALL_TOOLCHAIN_DIR", str(tmp_path / "cache"))
    calls = tmp_path / "calls"
    pulumi = tmp_path / "bin" / "pulumi"
    pulumi.parent.mkdir()
    pulumi.write_text(f"#!/bin/sh\necho x >> {calls}\necho v3.274.1\n")
    pulumi.chmod(0o755)
    assert [found.version(pulumi) for _ in range(3)] == ["v3.274.1"] * 3
    assert calls.read_text().count("x") == 1
    pulumi.write_text(f"#!/bin/sh\necho x >> {calls}\necho v3.280.0\n")  # an upgrade in place
    assert found.version(pulumi) == "v3.280.0" and calls.read_text().count("x") == 2


# The engine's stand-in: started, it waits for an interrupt and ends on it. It unblocks SIGINT, which it inherits
# blocked from the thread that started it (below).
INTERRUPTIBLE_PULUMI = f"""#!{sys.executable}
import pathlib, signal, sys, time
if sys.argv[1:2] == ["version"]:
    sys.exit(print("v3.274.1"))
signal.pthread_sigmask(signal.SIG_UNBLOCK, {{signal.SIGINT}})
pathlib.Path(__file__).with_name("started").touch()
try:
    time.sleep(60)
except KeyboardInterrupt:
    print("cancelled")
    sys.exit(255)
"""

# meshinstall's side, as the CLI runs it, except that its main thread blocks SIGINT: the kernel then delivers the
# interrupt to another thread, as it may do with any process-wide signal.
INTERRUPTED_RUN = """
import signal, sys, threading, time
from meshinstall.stacks.engine.automation import EngineCommand
from meshinstall.stacks.engine.events import cancel_on_interrupt
threading.Thread(target=time.sleep, args=(120,), daemon=True).start()
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
command = EngineCommand(root=sys.argv[1], skip_version_check=True)
with cancel_on_interrupt(command, say=print) as seen:
    try:
        command.run(["up"], sys.argv[1], {})
    except Exception as err:
        print(type(err).__name__, err)
print("interrupts", seen.count, flush=True)
"""


def test_an_interrupt_that_reaches_another_thread_still_cancels_the_engine(tmp_path):
    """A Ctrl-C is for the process, and the kernel may hand it to any thread. Python runs the handler in the main
    thread, which waits for the engine: it must still get there while the engine runs (CI saw an up that ignored it
    with Deployments in flight)."""
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text(INTERRUPTIBLE_PULUMI)
    fake.chmod(0o755)
    meshinstall = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED_RUN, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}"},
    )
    deadline = time.monotonic() + 30
    while not (fake.parent / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    meshinstall.send_signal(signal.SIGINT)
    try:
        output, _ = meshinstall.communicate(timeout=20)  # the engine, never interrupted, would sleep for 60 s
    except subprocess.TimeoutExpired:
        meshinstall.kill()
        pytest.fail("the interrupt did not reach the engine")
    assert "interrupt again to stop it at once" in output and "cancelled" in output and "interrupts 1" in output, output
