"""A change of `mesh.version` on an environment that is up: the plan of Istio's revision-based canary upgrade.

The plan names the old and the new revision (`mesh.revision` when the spec names it, else after the version:
1.30.3 is `1-30-3`; an install without a revision is `default`), the waves of teams that move to the new revision in
order, the gateways upgraded in place after the last wave, and the checks that gate each wave. `in-place` keeps
one revision and is not gated. Pure functions of the spec and of what the state records as installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...components import ISTIO_NAMESPACE, ISTIOD_RELEASE
from ...errors import UsageError
from ...schemas.model import Spec

DEFAULT_REVISION = "default"
# The stack output where an upgrade in progress records where it stands (the phase being carried out): the next
# `up` resumes there, `status` shows it, and the checks see the revisions of that phase.
RECORD_OUTPUT = "meshUpgrade"
# The checks that gate a wave, run for the wave's namespaces: the control plane, injection and policy, the teams'
# namespaces and their apps. MI404 (drift) reads the whole environment and runs once at the end.
GATE_CHECKS = ("MI101", "MI102", "MI201", "MI202", "MI203", "MI204", "MI401", "MI402", "MI403")
MAX_MINOR_STEP = 2
# The checks after the new revision is installed, before any namespace moves to it.
CONTROL_PLANE_CHECKS = ("MI101", "MI102")


@dataclass(frozen=True)
class Installed:
    """The mesh the state records as installed: its version, revision and the istiod release that serves it."""

    version: str
    revision: str = DEFAULT_REVISION
    release: str = ISTIOD_RELEASE


@dataclass(frozen=True)
class Revision:
    """One istiod revision the program declares: its name, chart version and Helm release."""

    name: str
    version: str
    release: str = ISTIOD_RELEASE

    @property
    def value(self) -> str:
        """The charts' `revision` value (empty for the default revision)."""
        return "" if self.name == DEFAULT_REVISION else self.name


@dataclass(frozen=True)
class MeshLayout:
    """The mesh as the program declares it at one step: the istiod revisions side by side (the first is the default
    one: base's `defaultRevision` and CNI's), the version of base and CNI, the revision of the gateways, and the
    revision each team's namespaces use (a team not named uses the default one)."""

    revisions: tuple[Revision, ...]
    gateway: Revision
    base_version: str
    team_revisions: Mapping[str, str] = field(default_factory=dict)

    def team_revision(self, team: str) -> Revision:
        """The revision whose sidecars a team's namespaces get."""
        name = self.team_revisions.get(team, self.revisions[0].name)
        return next(r for r in self.revisions if r.name == name)


def steady(spec: Spec, installed: Installed | None) -> MeshLayout:
    """The layout outside an upgrade: one revision at the spec's version. Its name is `mesh.revision`, else the
    installed one (a canary upgrade leaves a revision named after its version), else `default`; its release is the
    installed one, else `istiod`."""
    name = spec.mesh.revision or (installed.revision if installed else DEFAULT_REVISION)
    revision = Revision(name, spec.mesh.version, installed.release if installed else ISTIOD_RELEASE)
    return MeshLayout((revision,), revision, spec.mesh.version)


@dataclass(frozen=True)
class Wave:
    """Teams that move to the new revision together, and their namespaces."""

    teams: tuple[str, ...]
    namespaces: tuple[str, ...]


@dataclass(frozen=True)
class UpgradePlan:
    """What `up` does to move the mesh from the installed version to the spec's."""

    strategy: str
    old_version: str
    new_version: str
    old_revision: str
    new_revision: str
    waves: tuple[Wave, ...]
    gateways: tuple[str, ...]
    gates: tuple[str, ...]
    pause_seconds: int = 0

    def lines(self) -> list[str]:
        """The plan as a person reads it in `preview`."""
        head = f"mesh upgrade {self.old_version} -> {self.new_version}, {self.strategy}"
        if self.strategy == "in-place":
            return [
                f"{head}: revision {self.old_revision} upgraded in place, every workload restarted at once; not gated by checks "
                "(strategy: canary gates each wave)"
            ]
        lines = [
            f"{head}: revision {self.new_revision} installed beside {self.old_revision}, then {len(self.waves)} wave(s):"
        ]
        for i, wave in enumerate(self.waves, 1):
            lines.append(
                f"  wave {i}: {', '.join(wave.teams)} (namespaces {', '.join(wave.namespaces)}); gate: {', '.join(self.gates)}"
                + (f"; then {self.pause_seconds}s pause" if self.pause_seconds and i < len(self.waves) else "")
            )
        if self.gateways:
            lines.append(f"  then the gateways upgraded in place to {self.new_version}: {', '.join(self.gateways)}")
        lines.append(
            f"  then revision {self.old_revision} removed; a failing wave rolls back every wave to {self.old_revision} (unless --no-rollback)"
        )
        return lines


def revision_of(version: str) -> str:
    """The revision name of a version: `1.30.3` -> `1-30-3` (a DNS label)."""
    return version.replace(".", "-")


def plan(spec: Spec, installed: Installed | None, allow_downgrade: bool = False) -> UpgradePlan | None:
    """The upgrade `up` would carry out, or None when the installed version is the spec's (or nothing is installed).
    UsageError for what the rules refuse: a downgrade without `allow_downgrade`, a step of more than two minors."""
    new = spec.mesh.version
    if installed is None or installed.version == new:
        return None
    old, target = _numbers(installed.version), _numbers(new)
    if target < old and not allow_downgrade:
        raise UsageError(
            f"mesh.version {new} is older than the installed {installed.version}: a downgrade needs --allow-downgrade"
        )
    if target[0] != old[0] or abs(target[1] - old[1]) > MAX_MINOR_STEP:
        raise UsageError(
            f"mesh.version {installed.version} -> {new} skips more than {MAX_MINOR_STEP} minor versions, which Istio does not support: "
            f"upgrade through an intermediate version (`meshinstall versions` lists them)"
        )
    upgrade = spec.mesh.upgrade
    new_revision = spec.mesh.revision or revision_of(new)
    if upgrade.strategy == "canary" and new_revision == installed.revision:
        raise UsageError(
            f"mesh.revision {new_revision!r} is the installed revision: a canary upgrade installs the new version as a new revision "
            f"beside it; name it (mesh.revision: {revision_of(new)}) or remove mesh.revision to name revisions after versions"
        )
    gateways = tuple(
        name
        for name, on in (
            ("istio-ingressgateway", spec.mesh.ingress_gateway.enabled),
            ("istio-egressgateway", spec.mesh.egress_gateway.enabled),
        )
        if on
    )
    return UpgradePlan(
        strategy=upgrade.strategy,
        old_version=installed.version,
        new_version=new,
        old_revision=installed.revision,
        new_revision=installed.revision if upgrade.strategy == "in-place" else new_revision,
        waves=waves(spec),
        gateways=gateways,
        gates=GATE_CHECKS if upgrade.strategy == "canary" else (),
        pause_seconds=upgrade.pause_seconds,
    )


def waves(spec: Spec) -> tuple[Wave, ...]:
    """The spec's waves, then the teams they do not name in waves of `teamsPerWave`, in the spec's order."""
    upgrade, teams = spec.mesh.upgrade, {t.name: t for t in spec.paas.teams}
    named = [tuple(wave) for wave in upgrade.waves]
    rest = [t.name for t in spec.paas.teams if not any(t.name in wave for wave in named)]
    step = upgrade.teams_per_wave
    ordered = named + [tuple(rest[i : i + step]) for i in range(0, len(rest), step)]
    return tuple(Wave(wave, tuple(ns for name in wave for ns in teams[name].namespaces)) for wave in ordered)


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@dataclass(frozen=True)
class Phase:
    """One step of a canary upgrade: an `up` of the program with `layout`, then a rollout restart of the Deployments
    in `restart` (the namespaces that just changed revision), then the checks in `gate`."""

    name: str
    layout: MeshLayout
    restart: tuple[str, ...] = ()
    gate: tuple[str, ...] = ()


def phases(plan: UpgradePlan, installed: Installed) -> tuple[Phase, ...]:
    """The steps of a canary upgrade, in order: the new revision beside the old one; each wave moved to it (its
    namespaces restarted and gated); the gateways upgraded in place; the old revision removed. Rolling a wave back
    is going back to an earlier phase's layout."""
    old = Revision(plan.old_revision, plan.old_version, installed.release)
    new = Revision(plan.new_revision, plan.new_version, f"{ISTIOD_RELEASE}-{plan.new_revision}")
    steps = [
        Phase(f"install revision {new.name}", MeshLayout((old, new), old, plan.new_version), gate=CONTROL_PLANE_CHECKS)
    ]
    moved: dict[str, str] = {}
    for i, wave in enumerate(plan.waves, 1):
        moved.update({team: new.name for team in wave.teams})
        steps.append(
            Phase(
                f"wave {i}: {', '.join(wave.teams)}",
                MeshLayout((old, new), old, plan.new_version, dict(moved)),
                wave.namespaces,
                plan.gates,
            )
        )
    steps.append(Phase("gateways", MeshLayout((old, new), new, plan.new_version, dict(moved))))
    steps.append(Phase(f"remove revision {old.name}", MeshLayout((new,), new, plan.new_version)))
    return tuple(steps)


def record(plan: UpgradePlan, installed: Installed, phase: int) -> dict[str, Any]:
    """What the stack records while phase `phase` of `plan` is carried out."""
    return {
        "from": plan.old_version,
        "to": plan.new_version,
        "oldRevision": plan.old_revision,
        "oldRelease": installed.release,
        "newRevision": plan.new_revision,
        "phase": phase,
    }


def installed_from(state: Any) -> Installed | None:
    """The installed mesh from a read state (stacks/unchanged.Recorded): the old side of an upgrade in progress,
    else the istiod release's chart version, `revision` value (none: `default`) and name."""
    progress = state.outputs.get(RECORD_OUTPUT)
    if isinstance(progress, dict):
        return Installed(progress["from"], progress["oldRevision"], progress["oldRelease"])
    found = None
    for release, (version, revision) in state.charts.items():
        namespace, _, name = release.partition("/")
        if (
            namespace == ISTIO_NAMESPACE
            and (name == ISTIOD_RELEASE or name.startswith(f"{ISTIOD_RELEASE}-"))
            and version
        ):
            found = Installed(version, revision or DEFAULT_REVISION, name)
    return found


def in_progress(state: Any) -> dict[str, Any] | None:
    """The record of an upgrade in progress, if the state has one."""
    progress = state.outputs.get(RECORD_OUTPUT)
    return progress if isinstance(progress, dict) else None


def resume_at(state: Any, new_version: str) -> int:
    """The phase an upgrade to `new_version` resumes at: the one the state records as being carried out, else 0."""
    progress = in_progress(state)
    return int(progress["phase"]) if progress and progress.get("to") == new_version else 0


def layout_from(spec: Spec, state: Any) -> MeshLayout:
    """The layout the environment has: the current phase's while a canary upgrade to the spec's version is in
    progress; the installed one while it has not started (the rollout, not a plain engine run, changes it); else
    the steady one."""
    installed, progress = installed_from(state), in_progress(state)
    if installed and installed.version != spec.mesh.version and spec.mesh.upgrade.strategy == "canary":
        if progress and progress.get("to") == spec.mesh.version:
            upgrade = plan(spec, installed, allow_downgrade=True)
            steps = phases(upgrade, installed) if upgrade else ()
            if steps:
                return steps[min(resume_at(state, spec.mesh.version), len(steps) - 1)].layout
        current = Revision(installed.revision, installed.version, installed.release)
        return MeshLayout((current,), current, installed.version)
    return steady(spec, installed)
