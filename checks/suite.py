"""meshinstall's checks as pytest tests, on testinfra's `host` fixture, for teams that run pytest themselves.

    MESHINSTALL_ENV=environments/dev.yaml MESHINSTALL_PHASE=verify \\
        pytest --pyargs meshinstall.checks.suite --hosts=local://

Put your own checks beside it in the same form (a `Check` subclass with `@register`): they run here and in
`meshinstall doctor`/`verify` alike. A skipped check is a pytest skip, a warning passes with a warning.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from . import load_all
from .base import Status
from .runner import context_for

PHASE = os.environ.get("MESHINSTALL_PHASE", "verify")
IDS = [i for i, c in load_all().items() if c.runs_in(PHASE)]


@pytest.fixture(scope="module")
def environment():
    path = Path(os.environ.get("MESHINSTALL_ENV", "environments/dev.yaml"))
    ctx = context_for(path)
    ctx.phase = PHASE
    return ctx


@pytest.mark.parametrize("check_id", IDS)
def test_check(check_id: str, environment, host) -> None:
    environment.host = host
    result = load_all()[check_id]().run(environment)
    if result.status is Status.SKIPPED:
        pytest.skip(f"{check_id}: {result.message}")
    if result.status is Status.WARNING:
        warnings.warn(f"{check_id} {result.title}: {result.message}", stacklevel=1)
    assert result.status is not Status.FAILED, (
        f"{check_id} {result.title}: {result.target}: {result.message} (hint: {result.hint})"
    )
