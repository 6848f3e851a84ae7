"""Runs the checks of a phase for an environment and collects their results."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import SpecInvalid
from ..schemas.model import Spec
from . import load_all
from .base import Context, Result, Status


@dataclass(frozen=True)
class Report:
    """The results of one run, in id order."""

    phase: str
    environment: str
    results: tuple[Result, ...]

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if r.status is Status.FAILED]

    def counts(self) -> dict[str, int]:
        return {s.value: sum(1 for r in self.results if r.status is s) for s in Status}

    def to_dict(self) -> dict[str, object]:
        return {"phase": self.phase, "environment": self.environment, "ok": not self.failed,
                "counts": self.counts(), "results": [r.to_dict() for r in self.results]}


def context_for(spec_path: Path, host: str = "local://", spec: Spec | None = None) -> Context:
    """A check context; an invalid spec is recorded (MI001 reports it) rather than raised. A command that has
    loaded the spec already passes it (at 1000 apps, loading it takes most of a second)."""
    from ..schemas.validate import load_spec

    try:
        return Context(spec or load_spec(spec_path), spec_path, host_spec=host)
    except SpecInvalid as err:
        return Context(None, spec_path, err.problems, host_spec=host)


def run(phase: str, ctx: Context, only: set[str] | None = None) -> Report:
    """Run every check of `phase` (doctor or verify); cluster checks are skipped once the cluster is unreachable."""
    results: list[Result] = []
    unreachable = False
    ctx.phase = phase
    for check_id, cls in load_all().items():
        gate = phase == "verify" and check_id == "MI005"  # verify first makes sure there is a cluster to look at
        if (cls.phase != phase and not gate) or (only and check_id not in only):
            continue
        check = cls()
        if unreachable and cls.needs_cluster:
            results.append(check.skipped(check.target, "the cluster is unreachable (MI005)"))
            continue
        result = check.run(ctx)
        unreachable = unreachable or (check_id == "MI005" and result.status is Status.FAILED)
        results.append(result)
    name = ctx.spec.name if ctx.spec else ctx.spec_path.stem
    return Report(phase, name, tuple(results))
