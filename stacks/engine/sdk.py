"""Three fixes to the Pulumi Python SDK (pinned in pyproject.toml), applied when the program runs.

The SDK's `wait_for_rpcs` (pulumi/runtime/stack.py), which runs while the engine creates what the program declared,
drains the outputs it tracks with `asyncio.wait(all_pending, FIRST_COMPLETED)` in a loop: each turn hooks and unhooks
a callback on every pending output, then puts all but one back. Every resource leaves about ten outputs pending, and
they complete one by one, so the drain is quadratic. At 1000 apps (7,000 resources, ~70,000 outputs) it held the
driver's one event loop at 100% of a core for most of an `up`, so the program declared its resources to the engine
about a minute late and the engine sat idle (bench/results.md, issue 8).

`wait_for_rpcs` below is the SDK's with one change: each turn awaits the pending outputs together
(`asyncio.gather`), which hooks each output once. The outputs added meanwhile are awaited on the next turn, as
before; the first failure is raised, as before.

The SDK also sends the engine a debug message at each step of each resource's registration (`pulumi.log.debug`:
"registering resource", "resource registration prepared", "…successful", and more), each one a blocking gRPC call
from the program's event loop. The engine shows debug messages only when run with `--debug`, which meshinstall never
passes, so it drops them all: at 1000 apps, about 30,000 round trips and 17% of the driver's samples while it declared
the resources (py-spy, bench/results.md). `apply` makes `pulumi.log.debug` send nothing; the other levels are sent.

And with each resource it registers, the SDK sends the Python stack that declared it (`traceback.extract_stack()`,
every frame's file URI and line), which the engine keeps in the state next to the resource, for Pulumi Cloud's
"source" links. meshinstall shows it nowhere, and at 1000 apps it was 2.4 kB of a Deployment's 9.8 kB in the state,
held in the engine's memory and rewritten at every checkpoint (bench/results.md, stop 19). `apply` makes the SDK
send an empty stack, so the state records none.
"""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from typing import Any

import pulumi.log
from pulumi.runtime import resource, stack
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.settings import SETTINGS, _get_rpc_manager

# The SDK release whose wait_for_rpcs this replaces; another one keeps its own (a test says when to look again).
FIXED_RELEASE = "3.272.0"
SDK_WAIT_FOR_RPCS = stack.wait_for_rpcs
SDK_DEBUG = pulumi.log.debug
SDK_STACK_TRACE = resource._get_stack_trace


async def wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
    rpc_manager = _get_rpc_manager()
    while True:
        while rpc_manager.rpcs:
            await asyncio.sleep(0)
            try:
                await rpc_manager.rpcs.pop()
            except Exception as exn:
                if rpc_manager.unhandled_exception is not None:
                    raise exn from rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
                raise
        if rpc_manager.unhandled_exception is not None:
            raise rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
        if await_all_outstanding_tasks:
            while True:
                with SETTINGS.lock:
                    pending = list(SETTINGS.outputs)
                    SETTINGS.outputs.clear()
                if not pending:
                    break
                await asyncio.gather(*pending)
        if not rpc_manager.rpcs:
            break


def _unsent(*_args: Any, **_kwargs: Any) -> None:
    """`pulumi.log.debug` for an engine that does not show debug messages."""


def _no_stack() -> source_pb2.StackTrace:
    """The SDK's `_get_stack_trace` for a state that keeps no stacks."""
    return source_pb2.StackTrace()


def apply() -> bool:
    """Stop sending debug messages and stack traces; replace the SDK's wait_for_rpcs when the installed SDK is the
    release it was written against."""
    pulumi.log.debug = _unsent
    resource._get_stack_trace = _no_stack
    if version("pulumi") != FIXED_RELEASE:
        return False
    stack.wait_for_rpcs = wait_for_rpcs
    return True
