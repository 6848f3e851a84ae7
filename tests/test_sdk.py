"""stacks/engine/sdk.py: the program waits for its outputs once each, not once per output that completes, and sends the
engine no debug messages; stacks/program/program.py loads the Kubernetes SDK ahead of the program."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pulumi.log
import pytest
from pulumi.runtime import stack
from pulumi.runtime.settings import SETTINGS

from meshinstall.stacks.engine import sdk

SDK_WAIT = sdk.SDK_WAIT_FOR_RPCS


class Output(asyncio.Future):
    """A tracked output that counts how often something hooks onto its completion."""

    hooks = 0

    def add_done_callback(self, fn, *, context=None):  # noqa: ANN001
        self.hooks += 1
        return super().add_done_callback(fn, context=context)


async def drain(wait, count: int, late: int = 0, failing: bool = False) -> list[Output]:
    """`count` tracked outputs completing one by one (and `late` more tracked while the wait runs); `wait` drains."""
    loop = asyncio.get_running_loop()
    outputs = [Output(loop=loop) for _ in range(count)]
    SETTINGS.outputs.update(outputs)

    async def complete() -> None:
        for i, output in enumerate(outputs):
            await asyncio.sleep(0)
            if failing and i == count // 2:
                output.set_exception(RuntimeError("an output failed"))
            else:
                output.set_result(None)
            if i == count // 2:
                for _ in range(late):
                    extra = Output(loop=loop)
                    SETTINGS.outputs.add(extra)
                    outputs.append(extra)
                    loop.call_later(0.01, extra.set_result, None)

    completing = loop.create_task(complete())
    try:
        await wait()
    finally:
        await completing
        SETTINGS.outputs.clear()
    return outputs


def test_each_output_is_awaited_once_however_many_there_are():
    outputs = asyncio.run(drain(sdk.wait_for_rpcs, 400))
    assert all(o.done() for o in outputs)
    assert max(o.hooks for o in outputs) == 1


def test_the_sdk_s_own_wait_still_hooks_outputs_over_and_over():
    """When this fails, the SDK has fixed its drain: drop stacks/engine/sdk.py."""
    outputs = asyncio.run(drain(SDK_WAIT, 400))
    assert max(o.hooks for o in outputs) > 100


def test_outputs_tracked_during_the_wait_are_awaited_too():
    outputs = asyncio.run(drain(sdk.wait_for_rpcs, 50, late=20))
    assert len(outputs) == 70 and all(o.done() for o in outputs)


def test_a_failed_output_fails_the_program():
    with pytest.raises(RuntimeError, match="an output failed"):
        asyncio.run(drain(sdk.wait_for_rpcs, 50, failing=True))


def test_applied_to_the_pinned_sdk_only(monkeypatch):
    monkeypatch.setattr(pulumi.log, "debug", sdk.SDK_DEBUG)
    monkeypatch.setattr(stack, "wait_for_rpcs", SDK_WAIT)
    assert version("pulumi") == sdk.FIXED_RELEASE, (
        "the SDK moved: read its wait_for_rpcs and redo or drop stacks/engine/sdk.py"
    )
    assert sdk.apply() and stack.wait_for_rpcs is sdk.wait_for_rpcs
    monkeypatch.setattr(sdk, "FIXED_RELEASE", "0.0.0")
    monkeypatch.setattr(stack, "wait_for_rpcs", SDK_WAIT)
    assert not sdk.apply() and stack.wait_for_rpcs is SDK_WAIT


class Engine:
    """The engine's log service: what the program sent it."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    def Log(self, request) -> None:  # noqa: N802, ANN001 (the gRPC method's name)
        self.sent.append((request.severity, request.message))


def test_the_program_sends_the_engine_no_debug_messages_and_every_other_one(monkeypatch):
    """The engine drops debug messages unless run with --debug; the SDK sent one per step of each registration."""
    from pulumi.runtime.proto import engine_pb2

    engine = Engine()
    monkeypatch.setattr(pulumi.log, "get_engine", lambda: engine)
    monkeypatch.setattr(pulumi.log, "debug", sdk.SDK_DEBUG)  # as the SDK has it; put back after the test
    pulumi.log.debug("before")
    sdk.apply()
    pulumi.log.debug("registering resource: ty=kubernetes:apps/v1:Deployment")
    pulumi.log.info("Gateway API CRDs: left alone")
    pulumi.log.warn("a warning")
    assert engine.sent == [
        (engine_pb2.DEBUG, "before"),
        (engine_pb2.INFO, "Gateway API CRDs: left alone"),
        (engine_pb2.WARNING, "a warning"),
    ]


def test_the_program_sends_no_stack_with_its_resources(monkeypatch):
    """The engine keeps the stack sent with each registration in the state (2.4 kB of a Deployment's 9.8 kB)."""
    from pulumi.runtime import resource

    from meshinstall.stacks.program.offline import run

    class Thing(pulumi.ComponentResource):  # as meshinstall's components are declared
        def __init__(self, name: str) -> None:
            super().__init__("meshinstall:test:Thing", name)

    def program() -> None:
        Thing("a")

    asyncio.set_event_loop(asyncio.new_event_loop())  # the mocks run on the current loop; asyncio.run above closed it
    monkeypatch.setattr(resource, "_get_stack_trace", sdk.SDK_STACK_TRACE)  # as the SDK has it; put back after
    assert [r.stack_frames for r in run(program).values()] != [0]
    sdk.apply()
    assert [r.stack_frames for r in run(program).values()] == [0]


LOADED_AFTER = """
import sys
from meshinstall.stacks.program import program
program.load_k8s_sdk()
ahead = {m for m in sys.modules if m.startswith("pulumi_kubernetes")}
import program_runs
for env in ("dev", "staging", "prod"):
    program_runs.resources(env)
print(" ".join(sorted({m for m in sys.modules if m.startswith("pulumi_kubernetes")} - ahead)))
"""


def test_the_program_s_kubernetes_modules_are_all_loaded_ahead():
    """The driver loads the Kubernetes SDK's modules while the engine starts (stacks/program/program.py `import_ahead`), so the
    program does not load them in its own thread, ahead of every resource. Running the example environments' programs
    after that head start loads no other module of the SDK (in a fresh Python: this one has loaded others)."""
    tests = Path(__file__).parent
    done = subprocess.run(
        [sys.executable, "-c", LOADED_AFTER],
        capture_output=True,
        text=True,
        cwd=tests,
        env={**os.environ, "PYTHONPATH": str(tests)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [], f"add them to K8S_IMPORTS: {done.stdout}"
