"""The use cases that run the engine: `preview`, `up`, `repair`, `refresh` and `destroy`. Each owns its order
(lock, doctor, recovery, the upgrade's waves, converge, verify) and returns what the engine did."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ClusterUnreachable, UsageError
from ..schemas.model import Spec
from ..stacks.cluster import crds
from ..stacks.cluster.target import ClusterTarget
from ..stacks.engine import environment, runs
from ..stacks.engine.events import object_name
from . import checks, team, upgrade
from .steps import after_the_update, changing, converge, decide, run_engine, same_mesh
from .view import View


@dataclass(frozen=True)
class UpOptions:
    """How `up` runs: without asking, with the checks after it, refreshing first, and how a mesh upgrade may go."""

    yes: bool = False
    verify: bool = True
    refresh: bool = True
    allow_downgrade: bool = False
    rollback: bool = True


def preview(
    spec: Spec, view: View, refresh: bool = False, expect_no_changes: bool = False, allow_downgrade: bool = False
) -> runs.Outcome | None:
    """What `up` would change (and the plan of a mesh upgrade, its first phase previewed); None when the engine had
    nothing to do. It starts nothing: a stopped simulated cluster is an error."""
    ClusterTarget.of(spec).require_running("preview")
    opened = environment.open_environment(spec, refresh)
    same_mesh(spec, environment.read_state(opened))
    team.announce_handover(opened, spec, view)
    plan = upgrade.announce(opened, spec, view, allow_downgrade)
    if plan and plan.strategy == "canary":
        view.step(f"the engine's steps of the first phase ({upgrade.first_phase(opened, plan)}):")
    decision = decide(opened, view, refresh, "preview")
    if decision is None:
        return None
    if not opened.target.simulated:  # a plan against a cluster that cannot be read would show every object created
        checks.require(checks.run("doctor", spec.source, spec, only=frozenset({"MI005"})), view)
    outcome = run_engine(
        view, runs.preview, opened, refresh=decision.refreshes(refresh), expect_no_changes=expect_no_changes
    )
    view.outcome(outcome)
    return outcome


def up(spec: Spec, asked_as: str, view: View, options: UpOptions = UpOptions()) -> runs.Outcome | None:
    """Create or update the environment: doctor, a mesh upgrade's waves, preview and ask, apply, verify."""
    environment.read_secrets(spec)  # a missing passphrase or secret: exit 2, as from `preview`, before the doctor
    with changing(spec, view, options.refresh, doctor=True) as opened:
        team.hand_over(opened, spec, view)
        plan = upgrade.announce(opened, spec, view, options.allow_downgrade)
        if plan and plan.strategy == "canary":
            if not options.yes:
                view.confirm(f"Upgrade the mesh of {asked_as} as planned?")
            upgrade.roll_out(opened, spec, plan, view, options.rollback)
        outcome = converge(opened, asked_as, view, options.yes, options.refresh)
        if plan and plan.strategy == "in-place":
            upgrade.restart_in_place(opened, spec, plan, view)
        team.converge_all(spec, asked_as, view, options.yes, options.refresh)
    if options.verify:
        with after_the_update("the checks", f"`meshinstall verify {asked_as}` runs them"):
            checks.require(checks.run("verify", spec.source, spec, skip=frozenset({"MI404"})), view)
    return outcome


def repair(spec: Spec, asked_as: str, view: View, yes: bool = False) -> runs.Outcome | None:
    """After a killed or interrupted run: clear what it left (under `changing`), converge like `up`, then the checks
    `up` ends with, so that its exit code means what `up`'s means."""
    with changing(spec, view, refresh=True) as opened:
        outcome = converge(opened, asked_as, view, yes, True)
    with after_the_update("the checks", f"`meshinstall verify {asked_as}` runs them"):
        checks.require(checks.run("verify", spec.source, spec, skip=frozenset({"MI404"})), view)
    return outcome


def refresh(spec: Spec, view: View) -> runs.Outcome:
    """Read the cluster's actual state into the environment's state (reports drift)."""
    with changing(spec, view) as opened:
        outcome = run_engine(view, runs.refresh, opened)
    view.outcome(outcome)
    return outcome


@dataclass(frozen=True)
class Destroyed:
    """What `destroy` did: the engine's outcome, and on an existing cluster the CRDs deleted and left."""

    outcome: runs.Outcome
    crds_deleted: tuple[str, ...] = ()
    crds_left: crds.LeftCrds | None = None
    crds_unread: str = ""  # why the CRDs could not be read (the cluster is gone), if so


def removal_plan(spec: Spec) -> list[str]:
    """What `destroy` removes and what it keeps, from the state, one line per object, before it asks."""
    stack = environment.open_environment(spec).stack
    deployment = environment.engine_call("export", stack.export_stack, spec.named).deployment or {}
    lines = []
    for resource in deployment.get("resources") or []:
        kind = resource.get("type", "")
        if not resource.get("custom") or kind.startswith("pulumi:providers:"):
            continue
        word = "will keep" if resource.get("retainOnDelete") else "will delete"
        lines.append(f"{word:<13} {object_name(kind, resource.get('inputs'), resource.get('urn', ''))}")
    kept = sum(line.startswith("will keep") for line in lines)
    summary = f"destroy: {len(lines) - kept} object(s) to delete, {kept} to keep (the state of {spec.named})"
    return [*sorted(lines), summary]


def destroy(spec: Spec, view: View, yes: bool = False, force: bool = False, delete_crds: bool = False) -> Destroyed:
    """Remove everything meshinstall created for the environment; CRDs stay unless `delete_crds`."""
    if spec.metadata.production and not (yes and force):
        raise UsageError(f"{spec.name} is a production environment: destroy it only with --yes --force")
    if not yes:
        for line in removal_plan(spec) if view.can_ask() else []:  # without a terminal, the question refuses at once
            view.step(line)
        if view.prompt(f"Type the environment name ({spec.name}) to destroy it") != spec.name:
            raise UsageError("the name did not match; nothing was destroyed")
    with changing(spec, view) as opened:
        team.destroy_all(spec, view)
        outcome = run_engine(view, runs.destroy, opened)
    view.outcome(outcome)
    target = opened.target
    if target.simulated:  # gone with everything in it
        return Destroyed(outcome)
    try:
        deleted, left = crds.after_destroy(target, delete_crds)
    except ClusterUnreachable as err:
        if delete_crds:
            raise
        return Destroyed(outcome, crds_unread=str(err))
    return Destroyed(outcome, tuple(deleted), left)
