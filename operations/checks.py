"""The checks as use cases (`doctor`, `verify`) and as steps of a run: doctor before `up` changes anything, verify
after it, a canary upgrade's gate after each wave."""

from __future__ import annotations

from pathlib import Path

from ..checks import runner
from ..checks.base import Context
from ..errors import VerificationFailed
from ..schemas import resolve_environment
from ..schemas.model import Spec
from ..stacks.program.upgrade import MeshLayout
from .view import View


def run(
    phase: str,
    env: str | Path,
    spec: Spec | None = None,
    skip: frozenset[str] = frozenset(),
    only: frozenset[str] | None = None,
) -> runner.Report:
    """Every check of `phase` (or those of `only`) for the environment `env` (a name or a spec path), on `spec` when
    it is loaded."""
    ctx = runner.context_for(resolve_environment(str(env)), spec=spec)
    return runner.run(phase, ctx, {i for i in runner.load_all() if i not in skip and (only is None or i in only)})


def verdict(report: runner.Report) -> VerificationFailed | None:
    """The error a failed report stops its command with (exit 4), or None when nothing failed."""
    if not report.failed:
        return None
    ids = ", ".join(r.check_id for r in report.failed)
    return VerificationFailed(
        f"{report.phase} failed: {ids}" + (" (nothing was applied)" if report.phase == "doctor" else "")
    )


def require(report: runner.Report, view: View) -> None:
    """Inside a run: one line of the phase's outcome (`verify: 11 passed, 4 skipped`); what did not pass, and a stop
    there when a check failed."""
    counts = ", ".join(f"{n} {status}" for status, n in report.counts().items() if n)
    view.say(f"{report.phase}: {counts or 'no checks'}")
    failure = verdict(report)
    if failure:
        view.checks(report)
        raise failure


def gate(spec: Spec, layout: MeshLayout, ids: tuple[str, ...], view: View) -> list[str]:
    """A canary wave's gate: the checks `ids` against the mesh as `layout` lays it out; the ids that failed."""
    report = runner.run("verify", Context(spec, spec.source, given_layout=layout), set(ids))
    if report.failed:
        view.checks(report)
    return [r.check_id for r in report.failed]
