"""Issue 28, item 6: `repair` ends with the checks `up` ends with, so that its exit code means what `up`'s means."""

from __future__ import annotations

from contextlib import nullcontext

import pytest
from test_cli import run

from meshinstall.checks.base import Result, Status
from meshinstall.checks.runner import Report

pytestmark = pytest.mark.faults


def test_repair_exits_4_when_the_checks_after_it_fail(isolated, monkeypatch):
    from meshinstall.operations import apply, checks

    ran: list[str] = []

    def run_checks(phase: str, *_args, **_kwargs) -> Report:
        ran.append(phase)
        failed = Result(
            "MI402", "apps are available behind their Services", "paas", Status.FAILED, "deployment/x", "0/1"
        )
        return Report(phase, "dev", (failed,))

    monkeypatch.setattr(apply, "changing", lambda *_a, **_k: nullcontext(None))
    monkeypatch.setattr(apply, "converge", lambda *_a: None)  # the engine converged
    monkeypatch.setattr(checks, "run", run_checks)
    code, out, err = run("repair", "dev", "--yes")
    assert ran == ["verify"]
    assert code == 4
    assert "verify failed: MI402" in out + err
