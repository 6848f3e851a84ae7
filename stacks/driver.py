"""Drives the Pulumi Automation API: one stack per environment, an inline program, local or shared state."""

from __future__ import annotations

import gc
import os
from datetime import datetime, timezone
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from ..errors import ClusterUnreachable, UsageError
from ..schemas.model import Spec
from ..components import MANAGED_BY
from . import engine, gateway_api, kube, recovery, releases, state_file, unchanged, upgrade
from .backend import Backend, readable
from ..simulator.local_control_plane import stop_pids
from .lock import holder_record
from .operation import EventHandler, Interrupts, Journal, cancel_on_interrupt, failure, finished_anyway
from .places import PASSPHRASE_VARIABLE, PROJECT, Places, passphrase, places, state_backend  # noqa: F401 (the driver's names too)
from .secrets import resolve, state_password
from .target import ClusterTarget, spec_namespaces

if TYPE_CHECKING:  # the Pulumi SDK is imported when the engine runs (stacks/automation.py), never on the way there
    from pulumi import automation as auto

# Resource operations at once. Most of an operation is waiting on the API server (a Deployment until it is
# available), so the engine's default of 4 per core left a 2-core machine with 8 waits in flight.
PARALLEL = 64
# The toolchain's engine (toolchain/pulumi/patches) saves the state at most this often during an operation, and at
# its end, instead of after every step: a step-by-step save rewrites the whole state each time, which made a
# 100-app `up` spend most of its time writing checkpoints. A crash loses at most this much of the record.
CHECKPOINT_INTERVAL_MS = 5000
# A soft limit on the memory of the engine and of each of its plugins (Go programs). Go's collector otherwise lets a
# heap grow to twice what was live after its last collection: at 1000 apps the engine reached 1 GB for 0.33 GB live.
# Under the limit it collects more often as it nears it, and past it spends at most half a core on collecting rather
# than fail (bench/results.md, stop 20). A GOMEMLIMIT of the user's own is kept.
ENGINE_MEMORY_LIMIT = "512MiB"
# The Kubernetes provider's own, lower limit (toolchain/kubernetes-provider/patches/memory-limit.patch: GOMEMLIMIT
# reaches every plugin the engine starts). Its live heap is about 230 MB whatever the number of apps (it follows the
# awaits in flight); under the engine's limit it held 393-461 MiB at 1000 apps (bench/results.md, stop 22). Under its
# own it collects more often: 5% of adding 1000 apps, 9% of adding 100 (stop 23). So it applies from
# PROVIDER_LIMIT_FROM_APPS apps, where the engine's state takes the engine with its plugins towards 1 GiB (about 490
# MiB at 100 apps, 1,037 MiB at 1000 without this limit). Not set when the user gave a GOMEMLIMIT of their own.
PROVIDER_MEMORY_LIMIT_MIB = 256
PROVIDER_LIMIT_FROM_APPS = 500
# Python's cycle collector while the engine runs the program: a first generation of 10,000 objects instead of 700.
# The program makes objects by the hundred thousand (outputs, futures, requests), and at the default thresholds the
# collector ran 1,054 times during an add of 100 apps, 1.7-2.1 s of the program's thread; with these and the
# objects loaded before frozen, 85 times and 0.4-0.5 s, for the same peak (bench/results.md, stop 24).
ENGINE_GC_THRESHOLDS = (10_000, 10, 10)


@dataclass(frozen=True)
class Outcome:
    """What an operation did: counts per operation kind, the stack outputs, and the engine's summary."""

    operation: str
    changes: Mapping[str, int]
    outputs: Mapping[str, Any] = field(default_factory=dict)
    result: str = "succeeded"

    @property
    def changed(self) -> int:
        """How many resources were (or would be) created, updated, replaced or deleted."""
        return sum(n for op, n in self.changes.items() if op not in ("same", "read"))


def engine_env(place: Places, secret: str, backend_password: str | None = None, apps: int = 0) -> dict[str, str]:
    """Environment of every engine run: offline, meshinstall's own PULUMI_HOME, the backend (and its password, for
    libpq), the passphrase and the memory limits of the engine and, for an environment of `apps` apps from
    PROVIDER_LIMIT_FROM_APPS, of the Kubernetes provider."""
    limits = {"GOMEMLIMIT": ENGINE_MEMORY_LIMIT} | (
        {"MESHINSTALL_PROVIDER_MEMORY_LIMIT_MIB": str(PROVIDER_MEMORY_LIMIT_MIB)} if apps >= PROVIDER_LIMIT_FROM_APPS else {})
    return ({"PGPASSWORD": backend_password} if backend_password else {}) | {
        "PULUMI_HOME": str(place.pulumi_home),
        "PULUMI_BACKEND_URL": place.backend_url,
        "PULUMI_CONFIG_PASSPHRASE": secret,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_SKIP_CONFIRMATIONS": "true",
        "MESHINSTALL_CHECKPOINT_INTERVAL_MS": str(CHECKPOINT_INTERVAL_MS),
        # Whether each resource the state records changed is asked `PARALLEL` at once, as steps. By default the
        # engine asks one after the other, in the loop that also takes the program's registrations: the Gateway API
        # CRDs' server-side dry runs alone held it 0.7-1.3 s, and the apps behind them (bench/results.md, stop 26).
        "PULUMI_PARALLEL_DIFF": "true",
        "PATH": engine.search_path(),
    } | ({"GOMEMLIMIT": os.environ["GOMEMLIMIT"]} if "GOMEMLIMIT" in os.environ else limits)


@dataclass(frozen=True)
class Environment:
    """An opened environment: its stack, its cluster, and what its program declares next: the mesh layout, the
    record of an upgrade in progress, and the fingerprint of all it reads (stacks/unchanged.py). A canary upgrade
    lays the mesh out anew before each of its phases (`lay_out`).

    The stack is selected when first used: what the state records is read from the backend (`backend`, when
    meshinstall reads it itself), so an `up` with nothing to do never starts the engine, not even for its version."""

    name: str
    backend: Backend | None
    select: Callable[[], auto.Stack]
    target: ClusterTarget
    program_inputs: dict[str, Any]
    fingerprint: Callable[[upgrade.MeshLayout, dict[str, Any] | None], str]
    recorded_inputs: Callable[[unchanged.Recorded], str | None] = lambda state: None  # the last update's fingerprint, opened

    @cached_property
    def stack(self) -> auto.Stack:
        """The Automation API's stack, bound to the inline program."""
        return self.select()

    @property
    def inputs(self) -> str:
        """The fingerprint the next engine run records."""
        return str(self.program_inputs["inputs"])

    @property
    def layout(self) -> upgrade.MeshLayout:
        return self.program_inputs["layout"]

    def lay_out(self, layout: upgrade.MeshLayout, record: dict[str, Any] | None) -> None:
        """Make the next engine run declare `layout` and record `record` (None: no upgrade in progress)."""
        self.program_inputs.update(layout=layout, record=record, inputs=self.fingerprint(layout, record))

    def read_cluster_at(self, when: datetime) -> None:
        """Make the next engine run record that meshinstall read the cluster at `when`, in place of a refresh."""
        self.program_inputs["read_at"] = when.isoformat()


def open_stack(spec: Spec) -> auto.Stack:
    """The stack of `open_environment` (for callers that need only the stack)."""
    return open_environment(spec).stack


def open_environment(spec: Spec, refresh: bool = False) -> Environment:
    """Select (or create) the environment's stack with the inline program bound to `spec`; `refresh` says whether
    the operation reads the cluster first (the program records it for the next `up`, stacks/unchanged.py)."""
    secret = passphrase()
    secrets = resolve(spec)
    missing = releases.mirror_problems(spec)
    if missing:
        raise UsageError(f"the chart mirror {releases.chart_mirror(spec).describe()} lacks what {spec.name} installs:\n  " + "\n  ".join(missing))
    place = places(spec)
    target = ClusterTarget.of(spec)
    crds = gateway_api.plan(spec, target)
    adopted = target.adopted_namespaces(spec_namespaces(spec))
    for folder in (place.work_dir, place.pulumi_home):
        folder.mkdir(parents=True, exist_ok=True)
    if place.backend_url.startswith("file://"):
        Path(place.backend_url[len("file://"):]).mkdir(parents=True, exist_ok=True)
    backend = state_backend(spec)
    saved = backend.saved_state(PROJECT, spec.name)  # None: a backend the engine alone reads (S3)
    cell: dict[str, Any] = {}  # what the program below declares when the engine runs it

    def select() -> auto.Stack:
        from pulumi import automation as auto

        from . import program, sdk
        from .automation import Workspace

        program.import_ahead()  # beside the engine's start, not in the program's thread
        sdk.apply()  # the program then waits for its outputs in linear time (stacks/sdk.py)
        try:
            workspace = Workspace(
                saved=bool(saved and saved[1] is not None),
                work_dir=str(place.work_dir),
                pulumi_home=str(place.pulumi_home),
                pulumi_command=engine.command(),
                env_vars=engine_env(place, secret, state_password(spec), sum(len(team.apps) for team in spec.paas.teams)),
                secrets_provider="passphrase",
                program=lambda: program.build(spec, secrets, crds, unchanged.Recording(cell["inputs"], refresh, cell.get("read_at")), cell["layout"], cell["record"], adopted),
                project_settings=auto.ProjectSettings(name=PROJECT, runtime="python", main=os.getcwd(), backend=auto.ProjectBackend(place.backend_url)),
            )
            return auto.Stack.create_or_select(spec.name, workspace)
        except auto.errors.CommandError as err:
            raise failure(f"opening the stack at {place.backend_url}", spec.name, err, Journal(), Interrupts()) from err

    own = backend if saved is not None else None
    env = Environment(spec.name, own, select, target, cell,
                      lambda layout, record: unchanged.inputs_fingerprint(spec, secrets, crds, target, secret, layout, record, adopted),
                      lambda state: unchanged.recorded_inputs(state, secret))
    state = read_state(env)
    env.lay_out(upgrade.layout_from(spec, state), upgrade.in_progress(state))
    return env


@dataclass(frozen=True)
class Decision:
    """What `nothing_to_do` found without the engine: the outcome when there is nothing to do, else why the engine
    must run; `read_at` when the spec changed but the cluster was then found as the state records it (so an engine
    refresh would read nothing new)."""

    done: Outcome | None
    why: str
    read_at: datetime | None = None

    def refreshes(self, requested: bool) -> bool:
        """Whether the engine should refresh before its operation."""
        return requested and self.read_at is None

    @property
    def reason(self) -> str:
        """Why the engine runs, and (when so) why it does not refresh first."""
        if self.read_at:
            return f"{self.why}; every object is as the last update left it, so the engine does not refresh first"
        return self.why


def nothing_to_do(env: Environment, refresh: bool) -> Decision:
    """Whether an `up` or `preview` has nothing to do, found without the engine (stacks/unchanged.py). With
    `refresh`, it also reads whether every object is as the last refreshed update left it, even when the spec changed:
    the engine then need not refresh before applying the change."""
    last = last_update(env)
    if not last or last.kind != "update" or last.result != "succeeded":
        return Decision(None, "the last operation on the stack was not a successful update")
    state = read_state(env)
    if state.pending:
        return Decision(None, "the state records operations that were interrupted")
    inputs_changed = None if env.recorded_inputs(state) == env.inputs else "the spec, a secret, the charts, the cluster or meshinstall changed since the last update"
    if refresh and not state.refreshed:
        return Decision(None, inputs_changed or "the last update did not read the cluster (--no-refresh)")
    read_at = None
    if refresh:
        read_at = datetime.now(timezone.utc)
        try:
            changed = unchanged.changed_objects(env.target, state, last.start_time)
        except (RuntimeError, *kube.FAILURES) as err:
            return Decision(None, inputs_changed or f"the cluster could not be read ({err})")
        if changed:
            return Decision(None, f"{len(changed)} object(s) touched in the cluster since the last update, first {changed[0]}")
    if inputs_changed:
        return Decision(None, inputs_changed, read_at)
    return Decision(Outcome("up", {"same": state.resources}, state.outputs), f"nothing changed since the last update ({last.end_time or last.start_time:%Y-%m-%d %H:%M})")


@contextmanager
def exclusive(spec: Spec, confirm: recovery.Confirm, say: Callable[[str], None]) -> Iterator[None]:
    """Hold the environment's lock in its state backend (EnvironmentLocked names the holder) for a command that
    changes it. Under it, first clear what a dead run left outside the state: its engine processes and the engine's
    lock."""
    place, backend = places(spec), state_backend(spec)
    with backend.lock(spec.name):
        strays = recovery.stray_engine_processes(place.pulumi_home)
        if strays:
            say(f"stopping {len(strays)} engine process(es) a dead run left: " + "; ".join(f"{pid} {cmd}" for pid, cmd in strays[:4]))
            stop_pids([pid for pid, _ in strays])
        for line in recovery.clear_stale_engine_locks(backend, PROJECT, spec.name, confirm):
            say(line)
        yield


def who() -> str:
    """What each update records as its message, for `meshinstall history`: the command, and who ran it where."""
    me = holder_record()
    return f"{me['command']} by {me['user']}@{me['host']}"


def recover_state(env: Environment, spec: Spec) -> list[str]:
    """Under the lock, before the engine: operations a dead run left pending, and Helm releases it left stuck or
    installed without the state knowing (stacks/recovery.py). One line for each thing cleared."""
    said = []
    state = read_state(env)
    if state.pending:
        said += engine_call("repair", lambda: recovery.clear_pending_operations(env.stack), spec.name)
    if env.target.simulated and not env.target.control_plane().created():
        return said
    recorded_releases = state.helm_releases
    try:
        api = kube.connect(env.target.kubeconfig, env.target.context)
        ours = {n["metadata"]["name"] for n in kube.list_metadata(api, "v1", "namespaces", ",".join(f"{k}={v}" for k, v in MANAGED_BY.items()))}
        wanted = {(r.namespace, r.name): f"{r.namespace}/{r.name}" in recorded_releases
                  for r in releases.releases(spec).all() if r.namespace in ours or f"{r.namespace}/{r.name}" in recorded_releases}
        said += recovery.clear_stuck_helm_releases(api, wanted)
    except kube.FAILURES as err:
        raise ClusterUnreachable(f"the cluster of {spec.name} could not be read for Helm releases: {err}") from err
    return said


def _reading(source: auto.Stack | Environment) -> tuple[Backend | None, Callable[[], auto.Stack]]:
    """How to read an environment's (or a stack's) record: its backend when meshinstall reads it itself (a folder,
    PostgreSQL), else None; and its stack, for asking the engine (an environment selects it only then)."""
    if isinstance(source, Environment):
        return source.backend, lambda: source.stack
    variables = getattr(source.workspace, "env_vars", {})
    return readable(variables.get("PULUMI_BACKEND_URL", ""), variables.get("PGPASSWORD")), lambda: source


@dataclass(frozen=True)
class LastUpdate:
    """The newest entry of a stack's history: an update, refresh or destroy, and how it ended."""

    kind: str
    result: str
    start_time: datetime
    end_time: datetime | None


def last_update(source: auto.Stack | Environment) -> LastUpdate | None:
    """The last operation on an environment's (or a stack's) stack (None: there was none): read from the backend
    directly, else asked of the engine (`stack history`, 0.3 s)."""
    backend, engine_stack = _reading(source)
    if backend:
        try:
            entry = backend.last_update(PROJECT, source.name)
        except (OSError, ValueError):  # cut short or unreadable: as if there were no entry, the engine then runs
            return None
        if not entry or not isinstance(entry.get("startTime"), int):
            return None
        end = entry.get("endTime")
        return LastUpdate(entry.get("kind", ""), entry.get("result", ""), datetime.fromtimestamp(entry["startTime"], timezone.utc),
                          datetime.fromtimestamp(end, timezone.utc) if isinstance(end, int) else None)
    stack = engine_stack()
    history = engine_call("history", lambda: stack.history(page_size=1), stack.name)
    return LastUpdate(history[0].kind, history[0].result, history[0].start_time, history[0].end_time) if history else None


def read_state(source: auto.Stack | Environment) -> unchanged.Recorded:
    """What the state of an environment (or a stack) records, no secret decrypted: read from the backend directly
    (a folder, PostgreSQL), else exported by the engine."""
    backend, engine_stack = _reading(source)
    saved = backend.saved_state(PROJECT, source.name) if backend else None
    if saved is not None:
        try:
            deployment = state_file.latest(*saved)
            if deployment is not None:
                return unchanged.recorded(deployment)
        except state_file.StateUnreadable:
            pass  # the engine's own export says why
    stack = engine_stack()
    return unchanged.recorded(engine_call("export", stack.export_stack, stack.name).deployment)


def upgrade_plan(env: Environment, spec: Spec, allow_downgrade: bool = False) -> upgrade.UpgradePlan | None:
    """The mesh upgrade `up` would carry out (stacks/upgrade.py)."""
    return upgrade.plan(spec, upgrade.installed_from(read_state(env)), allow_downgrade)


def upgrade_progress(stack: auto.Stack, spec: Spec) -> dict[str, Any] | None:
    """An upgrade in progress as `status` shows it: versions, revisions, the phases done and pending."""
    state = read_state(stack)
    progress, installed = upgrade.in_progress(state), upgrade.installed_from(state)
    if not progress or installed is None:
        return None
    target = replace(spec, mesh=replace(spec.mesh, version=progress["to"]))
    plan = upgrade.plan(target, installed, allow_downgrade=True)
    steps = upgrade.phases(plan, installed) if plan and plan.strategy == "canary" else ()
    at = upgrade.resume_at(state, progress["to"])
    return {"from": progress["from"], "to": progress["to"], "revisions": [progress["oldRevision"], progress["newRevision"]],
            "done": [s.name for s in steps[:at]], "pending": [s.name for s in steps[at:]]}


def require_running(spec: Spec, command: str) -> None:
    """A read-only command on a simulated cluster that was created and has stopped says so; it starts nothing."""
    plane = ClusterTarget.of(spec).control_plane()
    if plane and plane.created() and not plane.running():
        raise ClusterUnreachable(f"the simulated cluster of {spec.name} is stopped, and `{command}` does not start it: `meshinstall up {spec.name}` restarts it")


def restart_if_stopped(spec: Spec) -> bool:
    """A simulated cluster created earlier whose processes died (reboot, crash) or run outdated flags restarts on its data."""
    from ..simulator import ControlPlaneError

    plane = ClusterTarget.of(spec).control_plane()
    try:
        return plane.ensure() if plane else False
    except ControlPlaneError as err:
        raise ClusterUnreachable(f"the simulated cluster of {spec.name} did not restart: {err}") from err


def engine_call(operation: str, fn: Callable[[], Any], env: str = "ENV") -> Any:
    """A short engine call (history, export, outputs): its failure as a one-line cause."""
    from pulumi import automation as auto

    try:
        return fn()
    except auto.errors.CommandError as err:
        raise failure(operation, env, err, Journal(), Interrupts()) from err


def _operation(stack: auto.Stack, operation: str, run: Callable[[EventHandler], Any], on_event: EventHandler | None) -> Journal:
    """Run an engine operation: a Ctrl-C asks the engine to cancel, and a failure names its resources and their errors
    (stacks/operation.py). Its journal holds the changes, from the engine's summary event."""
    from pulumi import automation as auto

    _collect_cycles()
    journal = Journal(on_event)
    with cancel_on_interrupt(stack.workspace.pulumi_command) as interrupts, _no_read_back(stack, operation):
        try:
            run(journal)
        except auto.errors.CommandError as err:
            raise failure(operation, stack.name, err, journal, interrupts) from err
    if interrupts.count:
        raise finished_anyway(operation, stack.name, journal)
    return journal


def _collect_cycles() -> None:
    """The cycle collector on, for the engine's runs: the command line runs without it until the first (cli/main.py
    `main`). What the command loaded before that (the modules, the spec, the state) is frozen, never walked again;
    the garbage of one run (a canary upgrade makes several) is collected as usual."""
    if gc.isenabled():
        return
    gc.freeze()
    gc.set_threshold(*ENGINE_GC_THRESHOLDS)
    gc.enable()


@contextmanager
def _no_read_back(stack: auto.Stack, operation: str) -> Iterator[None]:
    """Without the engine runs by which the Automation API reads back what an `up`, `refresh` or `destroy` has just
    reported in its events: `stack output --show-secrets` and `stack history`, each one more start of the engine that
    loads and decrypts the state (1.1 s after an `up` at 100 apps, bench/results.md). The changes come from the
    engine's summary event, and the outputs from the state (`read_state`)."""
    from pulumi import automation as auto

    stack.outputs = dict  # type: ignore[method-assign]
    stack.info = lambda *_: auto.UpdateSummary(operation, datetime.now(timezone.utc), "", {}, {}, "succeeded")  # type: ignore[method-assign]
    try:
        yield
    finally:
        del stack.outputs, stack.info


def preview(stack: auto.Stack, on_event: EventHandler | None = None, expect_no_changes: bool = False, refresh: bool = False) -> Outcome:
    """What `up` would change."""
    journal = _operation(stack, "preview", lambda events: stack.preview(
        on_event=events, parallel=PARALLEL, expect_no_changes=expect_no_changes, refresh=refresh, color="never"), on_event)
    return Outcome("preview", journal.summary)


def up(stack: auto.Stack, on_event: EventHandler | None = None, refresh: bool = True) -> Outcome:
    """Apply the spec; like `terraform apply`, it first refreshes, so hand-made changes (drift) are put back."""
    journal = _operation(stack, "up", lambda events: stack.up(on_event=events, parallel=PARALLEL, refresh=refresh, color="never", message=who()), on_event)
    return Outcome("up", journal.summary, read_state(stack).outputs)


def refresh(stack: auto.Stack, on_event: EventHandler | None = None) -> Outcome:
    """Read the cluster back into the state; reports drift."""
    journal = _operation(stack, "refresh", lambda events: stack.refresh(on_event=events, parallel=PARALLEL, color="never", message=who()), on_event)
    return Outcome("refresh", journal.summary)


def destroy(stack: auto.Stack, on_event: EventHandler | None = None) -> Outcome:
    """Remove everything the stack created."""
    journal = _operation(stack, "destroy", lambda events: stack.destroy(on_event=events, parallel=PARALLEL, color="never", message=who()), on_event)
    return Outcome("destroy", journal.summary)


def status(stack: auto.Stack) -> dict[str, Any]:
    """Outputs (secrets masked) and the last update."""
    history = engine_call("status", lambda: stack.history(page_size=1), stack.name)
    last = history[0] if history else None
    return {
        "environment": stack.name,
        "outputs": _plain(engine_call("status", stack.outputs, stack.name)),
        "lastUpdate": None if last is None else {
            "kind": last.kind, "result": last.result, "started": last.start_time.isoformat(), "ended": last.end_time.isoformat() if last.end_time else None,
            "changes": dict(last.resource_changes or {}),
        },
    }


def _plain(outputs: Mapping[str, auto.OutputValue]) -> dict[str, Any]:
    return {k: ("[secret]" if v.secret else v.value) for k, v in outputs.items() if k not in unchanged.RECORDING_OUTPUTS}
