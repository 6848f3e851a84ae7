"""The steps that several use cases share, in the order a change runs them: the lock and what a dead run left, the
doctor's checks, the simulated cluster restarted, the environment opened and recovered; then the engine's
decide, say and report."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..components import managed_by_selector
from ..components.manifests.team import TEAM_QUOTA
from ..errors import ClusterUnreachable, Interrupted, MeshinstallError, StateBackendUnreachable, UsageError
from ..schemas.model import Spec, Team
from ..simulator.local_control_plane import stop_pids
from ..stacks.cluster import kube, recovery
from ..stacks.cluster.target import ClusterTarget
from ..stacks.cluster.watch import watching
from ..stacks.engine import environment, runs, unchanged
from ..stacks.engine.environment import Environment
from ..stacks.engine.events import Journal
from ..stacks.program import releases
from ..stacks.state.lock import Lease, held
from ..stacks.state.places import PROJECT, places, saved_record, stack_name, state_backend
from ..stacks.state.recorded import Recorded
from . import checks
from .view import View

if TYPE_CHECKING:
    from ..stacks.program.identity import LinkerdIdentity


@contextmanager
def changing(
    spec: Spec,
    view: View,
    refresh: bool = False,
    doctor: bool = False,
    rotate: Callable[[LinkerdIdentity], LinkerdIdentity] | None = None,
) -> Iterator[Environment]:
    """For a use case that changes the environment: its lock, what a dead run left cleared (said), the doctor's
    checks if asked (but MI012, whose stuck releases are cleared next), the simulated cluster restarted if it
    stopped, then the opened environment with any interrupted operation recovered (`rotate`: Linkerd's identity
    renewed from the one the state keeps, operations/certs.py)."""
    with exclusive(spec, view):
        same_mesh(spec, saved_record(spec))  # before the doctor, whose MI008 would call the installed mesh another's
        if doctor:
            checks.require(checks.run("doctor", spec.source, spec, skip=frozenset({"MI012"})), view)
        if ClusterTarget.of(spec).restart_if_stopped():
            view.notice(f"the simulated cluster of {spec.name} was stopped: restarted it on its data")
        opened = environment.open_environment(spec, refresh, rotate)
        for line in recover_state(opened, spec):
            view.notice(line)
        yield opened


def installed_mesh(state: Recorded) -> str | None:
    """The mesh the state's Helm releases install ("istio", "linkerd"), or None before the first `up`."""
    for release in state.helm_releases:
        name = release.partition("/")[2]
        if name == "linkerd-control-plane":
            return "linkerd"
        if name == "istiod" or name.startswith("istiod-"):
            return "istio"
    return None


def same_mesh(spec: Spec, state: Recorded | None) -> None:
    """A change of `mesh.provider` on an environment that is up is refused, before anything changes: done in place,
    the teams' pods would be meshed by neither mesh between the two installs (and their policy enforced by neither)."""
    installed = installed_mesh(state) if state else None
    if installed and installed != spec.mesh.provider:
        raise UsageError(
            f"{spec.name} runs {installed}, and its spec now says mesh.provider: {spec.mesh.provider}: meshinstall does "
            f"not switch meshes in place (every team would be unmeshed between the two). Nothing was changed. Either "
            f"set mesh.provider back to {installed}, or move: `meshinstall destroy {spec.named}`, then "
            f"`meshinstall up {spec.named}` (the teams' workloads are recreated on the new mesh)"
        )


@contextmanager
def changing_team(spec: Spec, team: Team, view: View, refresh: bool, kubeconfig: str | None) -> Iterator[Environment]:
    """For a change of team `team`'s own stack: its lock (not the platform's, nor another team's), what a dead run of
    it left cleared, its stack opened through the team's identity, the team's namespace found ready, and any
    interrupted operation of the stack cleared."""
    with exclusive(spec, view, team.name):
        opened = environment.open_team(spec, team, refresh, kubeconfig)
        require_team_namespace(opened, spec, team)
        if environment.read_state(opened).pending:
            for line in environment.engine_call(
                "repair", lambda: recovery.clear_pending_operations(opened.stack), opened.name
            ):
                view.notice(line)
        yield opened


def require_team_namespace(env: Environment, spec: Spec, team: Team) -> None:
    """The team's app namespace exists, as the platform's `up` makes it (its quota is there), and the team's
    identity reaches it; else a clear error, before the engine starts."""
    namespace = team.app_namespace
    try:
        api = kube.connect(env.target.kubeconfig, env.target.context)
        found = kube.get(api, f"{kube.path_of('v1', 'resourcequotas', namespace)}/{TEAM_QUOTA}")
    except kube.ApiError as err:
        if err.status in (401, 403):
            raise UsageError(
                f"the identity of {env.target.kubeconfig} may not read team {team.name}'s namespace {namespace} "
                f"({err.status}): bind it to the Roles `meshinstall rbac {spec.named} --team {team.name}` prints"
            ) from err
        raise ClusterUnreachable(f"the cluster of {spec.name} could not be read: {err}") from err
    except kube.FAILURES as err:
        raise ClusterUnreachable(f"the cluster of {spec.name} could not be read: {err}") from err
    if found is None:
        raise UsageError(
            f"team {team.name}'s namespace {namespace} is not ready: the platform's `meshinstall up {spec.named}` "
            "creates it"
        )


@contextmanager
def exclusive(spec: Spec, view: View, team: str | None = None) -> Iterator[None]:
    """Hold the lock of the environment's stack (or of team `team`'s own) in its state backend (EnvironmentLocked
    names the holder) for a use case that changes it. Under it, first clear what a dead run left outside the state:
    its engine processes and the engine's lock."""
    place, backend, name = places(spec, team), state_backend(spec), stack_name(spec, team)
    with backend.lock(name):
        backend.check_writable(PROJECT, name)  # a full disk stops the command here, before anything is cleared
        strays = recovery.stray_engine_processes(place.pulumi_home)
        if strays:
            view.notice(
                f"stopping {len(strays)} engine process(es) a dead run left: "
                + "; ".join(f"{pid} {cmd}" for pid, cmd in strays[:4])
            )
            stop_pids([pid for pid, _ in strays])
        for line in recovery.clear_stale_engine_locks(backend, PROJECT, name, view.ask):
            view.notice(line)
        yield


def recover_state(env: Environment, spec: Spec) -> list[str]:
    """Under the lock, before the engine: operations a dead run left pending, and Helm releases it left stuck or
    installed without the state knowing (stacks/cluster/recovery.py). One line for each thing cleared."""
    said = []
    state = environment.read_state(env)
    if state.pending:
        said += environment.engine_call("repair", lambda: recovery.clear_pending_operations(env.stack), spec.name)
    if env.target.simulated and not env.target.control_plane().created():
        return said
    recorded_releases = state.helm_releases
    try:
        api = kube.connect(env.target.kubeconfig, env.target.context)
        ours = {n["metadata"]["name"] for n in kube.list_metadata(api, "v1", "namespaces", managed_by_selector())}
        wanted = {
            (r.namespace, r.name): f"{r.namespace}/{r.name}" in recorded_releases
            for r in releases.releases(spec).all()
            if r.namespace in ours or f"{r.namespace}/{r.name}" in recorded_releases
        }
        said += recovery.clear_stuck_helm_releases(api, wanted)
    except kube.FAILURES as err:
        raise ClusterUnreachable(f"the cluster of {spec.name} could not be read for Helm releases: {err}") from err
    return said


def run_engine(view: View, operation: Callable[..., runs.Outcome], env: Environment, **options: Any) -> runs.Outcome:
    """One engine operation, its events handed to the view's display, its cluster and its lock watched beside it.
    When the cluster stays gone (stacks/cluster/watch.py), the engine is stopped and the run ends with
    ClusterUnreachable (exit 6), naming what died, in place of a wait without end. When the lock is lost (a restart of
    a PostgreSQL state backend, stacks/state/backend.py `Keeper`), the engine is stopped and the run ends with
    StateBackendUnreachable (exit 9), saying how many changes it had made."""
    lease = held()
    interrupt = env.stack.workspace.pulumi_command.interrupt
    with (
        view.engine(operation.__name__) as on_event,
        watching(env.target, interrupt) as watch,
        lease.guarding(interrupt),
    ):
        journal = Journal(on_event)
        try:
            outcome = operation(env.stack, on_event=journal, named=env.asked_as, **options)
        except MeshinstallError as err:
            if lease.lost or lease.dropped:
                raise backend_gone(env, lease, journal.changed, str(err)) from err
            gone = watch.gone or watch.missing()  # the engine may fail on its own first, its requests refused
            if gone:
                raise cluster_gone(env, gone, str(err)) from err
            raise
    if lease.lost:  # the engine ended its run as the lock went
        raise backend_gone(env, lease, journal.changed, f"{outcome.operation} ended")
    if watch.gone:  # the engine ended its run as the cluster went
        raise cluster_gone(env, watch.gone, f"{outcome.operation} ended with {outcome.changed} change(s)")
    for warning in [*outcome.warnings, *retention(env, outcome.operation)]:
        view.notice(f"warning: {warning}")
    return outcome


def retention(env: Environment, operation: str) -> list[str]:
    """After a run that wrote the state: its history and backups pruned to what the backend keeps
    (stacks/state/backend.py KEEP); a failure to prune is a warning, never the run's failure."""
    if operation == "preview" or env.backend is None:
        return []
    try:
        env.backend.prune(PROJECT, env.name)
    except (OSError, StateBackendUnreachable) as err:
        return [f"the history and backups of {env.name} beyond those kept could not be removed: {err}"]
    return []


def backend_gone(env: Environment, lease: Lease, changed: int, engine: str) -> StateBackendUnreachable:
    """The error of a run whose state backend went away under it: what happened to the lock, how many changes the
    engine had made (applied to the cluster; the state records those the server took before it went), what to run."""
    first = engine.splitlines()[0] if engine else ""
    what = lease.lost or f"the server dropped {lease.where} (a restart)"
    stopped = "meshinstall stopped the engine" if lease.lost else "the engine failed"
    return StateBackendUnreachable(
        f"{what}: {stopped} after {changed} change(s) to the cluster ({first}); the state records what the server "
        f"took before it went. `meshinstall up {env.asked_as}` finishes when no other command holds the lock"
    )


def cluster_gone(env: Environment, what: str, engine: str) -> ClusterUnreachable:
    """The error of a run stopped because its cluster went away: what died, what the engine said, what to run."""
    again = f"meshinstall up {env.asked_as}"
    then = (
        f"`{again}` restarts the simulated cluster on its data and finishes"
        if env.target.simulated
        else f"when the cluster answers again, `{again}` finishes"
    )
    first = engine.splitlines()[0] if engine else ""
    return ClusterUnreachable(
        f"{what}: meshinstall stopped the engine ({first}); what it applied before is recorded in the state. {then}"
    )


def decide(env: Environment, view: View, refresh: bool, operation: str) -> unchanged.Decision | None:
    """Whether the engine must run for `up` or `preview` (stacks/engine/unchanged.py): when not, the outcome is
    reported with the reason, and None returned; else the reason is said and the decision returned."""
    decision = unchanged.nothing_to_do(env, refresh)
    if decision.done:
        done = decision.done if operation == "up" else replace(decision.done, operation=operation, outputs={})
        view.outcome(done, decision.why)
        return None
    view.say(f"running the engine: {decision.reason}")
    return decision


def converge(env: Environment, asked_as: str, view: View, yes: bool, refresh: bool) -> runs.Outcome | None:
    """`up`'s engine part: nothing when nothing changed, else preview, ask and apply."""
    decision = decide(env, view, refresh, "up")
    if decision is None:
        return None
    if decision.read_at:  # the reading stands in for the engine's refresh: the update records it
        env.read_cluster_at(decision.read_at)
    refresh = decision.refreshes(refresh)
    if not yes:
        planned = run_engine(view, runs.preview, env, refresh=refresh)
        view.outcome(planned)
        if planned.changed == 0:
            return planned
        view.confirm(f"Apply {planned.changed} change(s) to {asked_as}?")
    applied = run_engine(view, runs.up, env, refresh=refresh)
    view.outcome(applied)
    return applied


@contextmanager
def after_the_update(what: str, again: str) -> Iterator[None]:
    """A Ctrl-C in what `up` does after the engine's update: that update is complete, and the message says so
    (the command line would report it as an interrupt before anything was applied)."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted after the update, which is applied and recorded; {what} did not finish ({again})"
        ) from None
