"""What the checks' unit tests share: recorded answers, the environments' specs, and a check's outcome.

Each check is tested as Checkov tests its checks: fixture files named for the expected result
(`fixtures/<id>/passed.json`, `failed.json`) hold the API server's answers by request path (with its query when it
has one), and a test compares the exact outcome a user sees (status, the object and field looked at, the message).
The answers have the API server's shape, trimmed to what the checks read; `fixtures/cluster/` holds the nodes of a
cluster with real nodes and of one with KWOK's (no containers run there).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fake_api import Answers, always, context

from meshinstall.checks import load_all
from meshinstall.checks.base import Context, Result

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NOT_FOUND = always(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})
REAL_NODES = "cluster/real-nodes"
KWOK_NODES = "cluster/kwok-nodes"


def recorded(*names: str) -> Answers:
    """An API server that answers as the fixtures recorded (a later one wins for the same request); 404 for any other."""
    answers: dict[str, Any] = {}
    for name in names:
        answers |= json.loads((FIXTURES / f"{name}.json").read_text())
    return Answers({request: always(200, body) for request, body in answers.items()}, default=NOT_FOUND)


def refused() -> Answers:
    """An API server that is not there: every connection to it is refused."""

    def refuse(method: str, body: Any) -> tuple[int, Any]:
        raise ConnectionRefusedError(111, "Connection refused")

    return Answers({}, default=refuse)


def spec_path(folder: Path, environment: str) -> Path:
    """An environment's spec in the `isolated` copy of environments/ (dev is simulated, staging an existing cluster)."""
    return folder / "environments" / f"{environment}.yaml"


def cluster(api: Answers, spec: Path, phase: str = "verify") -> Context:
    """A check context for `phase` whose API server is `api`."""
    ctx = context(api, spec)
    ctx.phase = phase
    return ctx


def outcome(result: Result) -> tuple[str, str, str]:
    """What a user sees of a result: its status, the object and field it looked at, and the message."""
    return result.status.value, result.target, result.message


def run_check(check_id: str, ctx: Context) -> tuple[str, str, str]:
    """The outcome of one check in `ctx`, through `Check.run` (so its traits apply)."""
    return outcome(load_all()[check_id]().run(ctx))


@dataclass(frozen=True)
class Ran:
    """What a command gave, as testinfra says it."""

    succeeded: bool
    stdout: str = ""


class Host:
    """A testinfra host whose commands answer as `answer` says, and that keeps them."""

    def __init__(self, answer: Callable[[str], Ran], backend: str = "local") -> None:
        self.answer, self.backend, self.commands = answer, SimpleNamespace(NAME=backend), []

    def run(self, command: str) -> Ran:
        self.commands.append(command)
        return self.answer(command)


def on_host(ctx: Context, host: Host) -> Context:
    """`ctx` with its commands run on `host`."""
    ctx.__dict__["host"] = host
    return ctx
