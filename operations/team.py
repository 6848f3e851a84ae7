"""The use cases of a team that owns its workloads (`preview ENV --team T`, `up ENV --team T`), and what the
platform's `up` and `destroy` do with the teams' own stacks.

Why a stack per team: a team's `up` changes its stack alone, under its own lock, through an identity that holds
only Roles in the team's namespaces; two teams' `up` run side by side, and neither waits on the platform's read-only
commands. The platform's stack keeps the team's space (namespaces, quota, access, default-deny) and never declares
the team's workloads, so the platform's `up` and a team's never change the same object.
"""

from __future__ import annotations

from ..errors import UsageError
from ..schemas.model import Spec, Team
from ..stacks.engine import environment, runs
from ..stacks.engine.environment import Environment
from ..stacks.state import handover, state_file
from ..stacks.state.places import PROJECT, stack_name, state_backend
from .steps import changing_team, converge, decide, exclusive, run_engine
from .view import View


def team_of(spec: Spec, name: str) -> Team:
    """The team `name` of the spec, which must own its workloads (a `workloads` folder)."""
    for team in spec.paas.teams:
        if team.name == name:
            if not team.owns_workloads:
                raise UsageError(
                    f"team {name} of {spec.name} has no `workloads` folder: its apps are the platform's, "
                    f"applied by `meshinstall up {spec.named}`"
                )
            return team
    known = ", ".join(t.name for t in spec.paas.teams if t.owns_workloads) or "none"
    raise UsageError(f"{spec.name} has no team {name!r} (teams with their own workloads: {known})")


def preview(
    spec: Spec, name: str, view: View, refresh: bool = False, kubeconfig: str | None = None
) -> runs.Outcome | None:
    """What `up --team` would change in the team's objects; None when the engine had nothing to do."""
    team = team_of(spec, name)
    opened = environment.open_team(spec, team, refresh, kubeconfig)
    decision = decide(opened, view, refresh, "preview")
    if decision is None:
        return None
    outcome = run_engine(view, runs.preview, opened, refresh=decision.refreshes(refresh))
    view.outcome(outcome)
    return outcome


def up(
    spec: Spec,
    name: str,
    asked_as: str,
    view: View,
    yes: bool = False,
    refresh: bool = True,
    kubeconfig: str | None = None,
) -> runs.Outcome | None:
    """Apply team `name`'s workloads: its Deployments, Services, routes, policies, alerts and dashboard, nothing else."""
    team = team_of(spec, name)
    with changing_team(spec, team, view, refresh, kubeconfig) as opened:
        return converge(opened, f"{asked_as} --team {name}", view, yes, refresh)


def converge_all(spec: Spec, asked_as: str, view: View, yes: bool, refresh: bool) -> list[runs.Outcome | None]:
    """The platform's `up`, after its own stack: each team's own stack, one after the other, each under its lock."""
    outcomes = []
    for team in spec.paas.teams:
        if team.owns_workloads:
            view.step(f"the workloads of team {team.name} (its own stack, {stack_name(spec, team.name)})")
            with changing_team(spec, team, view, refresh, None) as opened:
                outcomes.append(converge(opened, f"{asked_as} --team {team.name}", view, yes, refresh))
    return outcomes


def hand_over(env: Environment, spec: Spec, view: View) -> list[str]:
    """Under the platform's lock, before its engine runs: the objects of teams that have moved to their own
    workloads are forgotten by the platform's state (not deleted), for their stacks to take over."""
    namespaces = {team.app_namespace for team in spec.paas.teams if team.owns_workloads}
    if not namespaces or not _holds_any(env, namespaces):
        return []
    exported = environment.engine_call("export", env.stack.export_stack, env.name)
    before = exported.deployment
    urns = handover.handed_over(before, namespaces)
    if not urns:
        return []
    exported.deployment = handover.without(before, urns)
    environment.engine_call("import", lambda: env.stack.import_stack(exported), env.name)
    teams = sorted(
        {team.name for team in spec.paas.teams if team.app_namespace in handover.namespaces_of(urns, before)}
    )
    line = f"handed {len(urns)} resource(s) of team(s) {', '.join(teams)} to their own stacks: kept in the cluster"
    view.notice(line)
    return [line]


def announce_handover(env: Environment, spec: Spec, view: View) -> None:
    """`preview` of the platform: say that objects its engine lists as deleted will be handed over instead."""
    namespaces = {team.app_namespace for team in spec.paas.teams if team.owns_workloads}
    if namespaces and env.backend and _holds_any(env, namespaces):
        view.notice(
            "the platform's state still holds the apps of teams that now own their workloads: `up` hands them to "
            "the teams' own stacks and keeps them in the cluster (the engine's preview below lists them as deletes)"
        )


def _holds_any(env: Environment, namespaces: set[str]) -> bool:
    """Whether the platform's state (read without the engine where it can) holds objects in `namespaces`."""
    saved = env.backend.saved_state(PROJECT, env.name) if env.backend else None
    if saved is None:
        return True  # a backend only the engine reads: ask it
    deployment = state_file.latest(*saved) or {}
    return bool(handover.handed_over(deployment, namespaces))


def destroy_all(spec: Spec, view: View) -> list[runs.Outcome]:
    """Before the platform's `destroy`: each team's own stack that has a state, destroyed under its lock."""
    outcomes = []
    backend = state_backend(spec)
    for team in spec.paas.teams:
        saved = backend.saved_state(PROJECT, stack_name(spec, team.name))
        if not team.owns_workloads or (saved is not None and saved[1] is None):  # never applied
            continue
        with exclusive(spec, view, team.name):
            opened = environment.open_team(spec, team)
            if environment.read_state(opened).resources == 0:
                continue
            view.step(f"the workloads of team {team.name} (its own stack, {stack_name(spec, team.name)})")
            outcome = run_engine(view, runs.destroy, opened)
            view.outcome(outcome)
            outcomes.append(outcome)
    return outcomes
