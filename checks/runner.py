"""Runs the checks of a phase for an environment and collects their results."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..errors import SpecInvalid
from ..schemas.model import Spec

# Imported before any check runs in a thread (`run`): a package that two threads import at once can reach one of them
# half-initialized (the Kubernetes client did, as an ImportError in MI005).
from ..stacks.engine import environment  # noqa: F401
from . import load_all
from .base import Check, Context, Result, Skip, Status


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
        return {
            "phase": self.phase,
            "environment": self.environment,
            "ok": not self.failed,
            "counts": self.counts(),
            "results": [r.to_dict() for r in self.results],
        }


def context_for(spec_path: Path, host: str = "local://", spec: Spec | None = None) -> Context:
    """A check context; an invalid spec is recorded (MI001 reports it) rather than raised. A command that has
    loaded the spec already passes it (at 1000 apps, loading it takes most of a second)."""
    from ..schemas.validate import load_spec

    try:
        return Context(spec or load_spec(spec_path), spec_path, host_spec=host)
    except SpecInvalid as err:
        return Context(None, spec_path, err.problems, host_spec=host)


def run(phase: str, ctx: Context, only: set[str] | None = None) -> Report:
    """Run every check of `phase` (doctor or verify, and the checks that gate it) and act on their traits: a fatal
    check's failure stops the checks that have not started (Check.fatal says how each is skipped).

    The fatal checks that do not read the cluster (MI001: every other check stands on the spec) run first. Then
    the other checks that do not read the cluster (doctor's passphrase, state and engine checks) run in threads
    beside the cluster's, which run one after the other in id order: each mostly waits (on a subprocess, the state
    backend, or the passphrase's key derivation, which releases the interpreter), and one after the other they
    took most of a doctor run (bench/results.md, stop 21)."""
    ctx.phase = phase
    chosen = [cls() for check_id, cls in load_all().items() if cls.runs_in(phase) and (not only or check_id in only)]
    first = [check for check in chosen if check.fatal and not check.needs_cluster]
    done, stop = _in_order(first, ctx)
    rest = [check for check in chosen if check not in first]
    if stop:
        done |= {check.id: check.skipped_for(stop) for check in rest}
    else:
        done |= _beside_the_cluster(rest, ctx)
    name = ctx.spec.name if ctx.spec else ctx.spec_path.stem
    return Report(phase, name, tuple(done[check.id] for check in chosen))


def _beside_the_cluster(checks: list[Check], ctx: Context) -> dict[str, Result]:
    """The checks that read the cluster in id order, those that do not in threads beside them."""
    aside = [check for check in checks if not check.needs_cluster]
    with ThreadPoolExecutor(max_workers=max(len(aside), 1)) as pool:
        pending = {check.id: pool.submit(check.run, ctx) for check in aside}
        done, _ = _in_order([check for check in checks if check.needs_cluster], ctx)
        return done | {check_id: future.result() for check_id, future in pending.items()}


def _in_order(checks: list[Check], ctx: Context) -> tuple[dict[str, Result], Skip | None]:
    """Run `checks` one after the other; once a fatal one fails, the rest are skipped as it says (returned too)."""
    results: dict[str, Result] = {}
    stop: Skip | None = None
    for check in checks:
        results[check.id] = check.skipped_for(stop) if stop else check.run(ctx)
        if check.fatal and not stop and results[check.id].status is Status.FAILED:
            stop = check.fatal
    return results, stop
