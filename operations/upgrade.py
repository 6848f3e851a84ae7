"""A change of `mesh.version` as a use case: the plan shown, `preview`'s look at its first phase, and a canary
upgrade carried out: the phases of stacks/program/upgrade.py one engine `up` each, the waves' workloads restarted
and gated by checks, resumable from the phase the stack records, rolled back when a wave's gate fails; an
in-place upgrade's restarts after the update."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..errors import VerificationFailed
from ..schemas.model import Spec
from ..stacks.cluster import restarts
from ..stacks.engine import environment, runs
from ..stacks.engine.environment import Environment
from ..stacks.program import upgrade
from ..stacks.program.upgrade import Installed, MeshLayout, Phase, UpgradePlan, phases, record
from . import checks
from .steps import after_the_update, run_engine
from .view import View

if TYPE_CHECKING:  # the Pulumi SDK loads when the engine runs, not before
    from pulumi import automation as auto


def plan_for(env: Environment, spec: Spec, allow_downgrade: bool = False) -> UpgradePlan | None:
    """The mesh upgrade `up` would carry out (stacks/program/upgrade.py); None when the version is unchanged."""
    return upgrade.plan(spec, upgrade.installed_from(environment.read_state(env)), allow_downgrade)


def announce(env: Environment, spec: Spec, view: View, allow_downgrade: bool) -> UpgradePlan | None:
    """The plan of a change of mesh.version, shown."""
    plan = plan_for(env, spec, allow_downgrade)
    for line in plan.lines() if plan else ():
        view.step(line)
    return plan


def first_phase(env: Environment, plan: UpgradePlan) -> str:
    """Lay the environment out as the next phase of `plan` will (for `preview`), and name that phase."""
    state = environment.read_state(env)
    installed, start = upgrade.installed_from(state), upgrade.resume_at(state, plan.new_version)
    step = upgrade.phases(plan, installed)[start]
    env.lay_out(step.layout, upgrade.record(plan, installed, start))
    return step.name


def roll_out(env: Environment, spec: Spec, plan: UpgradePlan, view: View, rollback: bool) -> None:
    """Carry out a canary upgrade, from the phase an interrupted one stopped at."""
    state = environment.read_state(env)
    installed, start = upgrade.installed_from(state), upgrade.resume_at(state, plan.new_version)
    if start:
        view.step(f"resuming the upgrade to {plan.new_version} at phase {start + 1}")
    hooks = Hooks(
        up=lambda: view.outcome(run_engine(view, runs.up, env, refresh=False)),
        gate=lambda layout, ids: checks.gate(spec, layout, ids, view),
        say=view.step,
    )
    carry_out(env, plan, installed, start, hooks, rollback)


def restart_in_place(env: Environment, spec: Spec, plan: UpgradePlan, view: View) -> None:
    """After an in-place upgrade's update: restart the apps' Deployments so their pods get the new sidecar."""
    namespaces = tuple(ns for team in spec.paas.teams for ns in team.namespaces)
    with after_the_update(
        "the restart of the apps' Deployments for the new sidecar",
        "`kubectl rollout restart deployment -n NAMESPACE` restarts them",
    ):
        restarted = restarts.restart_deployments(env.target, namespaces)
    view.step(
        f"in-place mesh upgrade: restarted {len(restarted)} Deployment(s) so their pods get the {plan.new_version} sidecar"
    )


def progress(stack: auto.Stack, spec: Spec) -> dict[str, Any] | None:
    """An upgrade in progress as `status` shows it: versions, revisions, the phases done and pending."""
    state = environment.read_state(stack)
    at_work, installed = upgrade.in_progress(state), upgrade.installed_from(state)
    if not at_work or installed is None:
        return None
    target = replace(spec, mesh=replace(spec.mesh, version=at_work["to"]))
    plan = upgrade.plan(target, installed, allow_downgrade=True)
    steps = upgrade.phases(plan, installed) if plan and plan.strategy == "canary" else ()
    at = upgrade.resume_at(state, at_work["to"])
    return {
        "from": at_work["from"],
        "to": at_work["to"],
        "revisions": [at_work["oldRevision"], at_work["newRevision"]],
        "done": [s.name for s in steps[:at]],
        "pending": [s.name for s in steps[at:]],
    }


@dataclass(frozen=True)
class Hooks:
    """What the rollout calls: one engine `up` of the environment as laid out, the gate checks of a layout (the ids
    that failed), and a line for the user."""

    up: Callable[[], Any]
    gate: Callable[[MeshLayout, tuple[str, ...]], list[str]]
    say: Callable[[str], None]


def carry_out(
    env: Environment, plan: UpgradePlan, installed: Installed, start: int, hooks: Hooks, rollback: bool = True
) -> None:
    """Run the phases from `start` (0, or where an interrupted upgrade stopped). A wave whose gate fails stops the
    upgrade: rolled back (every moved wave back on the old revision, the new one removed), or left as it is."""
    steps = phases(plan, installed)
    for index in range(start, len(steps)):
        step, last = steps[index], index == len(steps) - 1
        hooks.say(f"upgrade {index + 1}/{len(steps)}: {step.name}")
        env.lay_out(step.layout, None if last else record(plan, installed, index))
        hooks.up()
        if step.restart:
            restarts.restart_deployments(env.target, step.restart)
        if step.gate:
            failed = hooks.gate(step.layout, step.gate)
            if failed:
                _stop(env, plan, installed, steps, index, failed, hooks, rollback)
            if plan.pause_seconds and step.restart and steps[index + 1].restart:
                hooks.say(f"pausing {plan.pause_seconds}s before the next wave")
                time.sleep(plan.pause_seconds)


def _stop(
    env: Environment,
    plan: UpgradePlan,
    installed: Installed,
    steps: tuple[Phase, ...],
    index: int,
    failed: list[str],
    hooks: Hooks,
    rollback: bool,
) -> None:
    wave = steps[index].name
    if not rollback:
        raise VerificationFailed(
            f"upgrade stopped at {wave}: {', '.join(failed)} failed. Nothing was rolled back: fix the cause and run `meshinstall up` "
            f"to run this wave's gate again and go on, or set mesh.version back to {plan.old_version} (`up --allow-downgrade`) to roll back"
        )
    hooks.say(f"{wave}: {', '.join(failed)} failed; rolling every moved wave back to revision {plan.old_revision}")
    moved = tuple(ns for step in steps[1 : index + 1] for ns in step.restart)
    env.lay_out(steps[0].layout, record(plan, installed, 0))
    hooks.up()
    restarts.restart_deployments(env.target, moved)
    old = steps[0].layout.revisions[0]
    back = MeshLayout((old,), old, plan.old_version)
    env.lay_out(back, None)
    hooks.up()
    still = hooks.gate(back, plan.gates)
    after = f"; after the rollback {', '.join(still)} still fail" if still else "; the rollback passed its checks"
    raise VerificationFailed(
        f"upgrade to {plan.new_version} rolled back at {wave}: {', '.join(failed)} failed{after}. "
        f"The mesh runs {plan.old_version} (revision {plan.old_revision}) again"
    )
