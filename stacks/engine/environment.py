"""An opened environment: its stack bound to the inline program, its cluster, and what the state records (read from
the backend without the engine where it can); the engine's environment variables, and short engine calls."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import UsageError
from ...schemas.model import Spec, Team
from ...simulator.local_control_plane import process_identity
from ..cluster import kube, recovery
from ..cluster.target import ClusterTarget, spec_namespaces
from ..program import gateway_api, releases, upgrade
from ..program.args import team_workloads_args
from ..state import state_file
from ..state.backend import Backend, readable
from ..state.passphrase import passphrase
from ..state.places import PROJECT, Places, places, stack_name, state_backend
from ..state.recorded import Recorded, recorded, recorded_inputs, recorded_secret
from ..state.secrets import ResolvedSecrets, resolve, state_password
from . import fingerprint, toolchain
from .events import Interrupts, Journal, failure

# the Pulumi SDK is imported when the engine runs (stacks/engine/automation.py), never on the way there
if TYPE_CHECKING:
    from pulumi import automation as auto

    from ..program.identity import LinkerdIdentity

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


def engine_env(place: Places, secret: str, backend_password: str | None = None, apps: int = 0) -> dict[str, str]:
    """Environment of every engine run: offline, meshinstall's own PULUMI_HOME, the backend (and its password, for
    libpq), the passphrase and the memory limits of the engine and, for an environment of `apps` apps from
    PROVIDER_LIMIT_FROM_APPS, of the Kubernetes provider."""
    limits = {"GOMEMLIMIT": ENGINE_MEMORY_LIMIT} | (
        {"MESHINSTALL_PROVIDER_MEMORY_LIMIT_MIB": str(PROVIDER_MEMORY_LIMIT_MIB)}
        if apps >= PROVIDER_LIMIT_FROM_APPS
        else {}
    )
    return (
        ({"PGPASSWORD": backend_password} if backend_password else {})
        | {
            "TMPDIR": private_tmp(place.root),
            "PULUMI_HOME": str(place.pulumi_home),
            # which meshinstall process runs this engine: its engine is never taken for a dead run's while it lives
            recovery.OWNER: process_identity(os.getpid()) or str(os.getpid()),
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
            "PATH": toolchain.search_path(),
            # The engine's Python plugins (the simulated cluster's dynamic provider) run this Python, with meshinstall
            # in it, whether or not the project environment (.venv) is on PATH.
            "PULUMI_PYTHON_CMD": sys.executable,
        }
        | ({"GOMEMLIMIT": os.environ["GOMEMLIMIT"]} if "GOMEMLIMIT" in os.environ else limits)
    )


@functools.cache
def private_tmp(root: Path) -> str:
    """The engine's and its plugins' temporary folder: this process's own, owner-only, under the environment's
    `.meshinstall/tmp/`. The Kubernetes provider's Helm code writes the cluster's whole kubeconfig, bearer token
    included, to the temporary folder and never removes it (61 copies in /tmp after a day of runs). The folder goes
    when meshinstall exits; what a killed run left goes with the next command's."""
    base = root / "tmp"
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    for left in base.glob("engine-*"):
        pid = left.name.removeprefix("engine-")
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(left, ignore_errors=True)
    mine = base / f"engine-{os.getpid()}"
    mine.mkdir(mode=0o700, exist_ok=True)
    atexit.register(shutil.rmtree, mine, True)
    return str(mine)


@dataclass(frozen=True)
class Environment:
    """An opened environment: its stack, its cluster, and what its program declares next: the mesh layout, the
    record of an upgrade in progress, and the fingerprint of all it reads (stacks/engine/fingerprint.py). A canary upgrade
    lays the mesh out anew before each of its phases (`lay_out`).

    The stack is selected when first used: what the state records is read from the backend (`backend`, when
    meshinstall reads it itself), so an `up` with nothing to do never starts the engine, not even for its version."""

    name: str
    backend: Backend | None
    select: Callable[[], auto.Stack]
    target: ClusterTarget
    program_inputs: dict[str, Any]
    fingerprint: Callable[[upgrade.MeshLayout, dict[str, Any] | None], str]
    recorded_inputs: Callable[[Recorded], str | None] = lambda state: None  # the last update's fingerprint, opened
    # A team's stack: the namespaces its objects are in, read one by one (its identity reads nothing cluster-wide).
    namespaces: tuple[str, ...] = ()
    asked_as: str = ""  # the environment as the command named it (Spec.named), for hints

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

    @property
    def identity(self) -> LinkerdIdentity | None:
        """Linkerd's identity the next run declares (None with Istio)."""
        return self.program_inputs.get("identity")

    def read_cluster_at(self, when: datetime) -> None:
        """Make the next engine run record that meshinstall read the cluster at `when`, in place of a refresh."""
        self.program_inputs["read_at"] = when.isoformat()


def read_secrets(spec: Spec) -> tuple[str, ResolvedSecrets]:
    """The passphrase and every secret the platform's program reads; UsageError (exit 2) naming each one missing or
    empty, before anything runs: `preview` and `up` stop on the same mistake with the same exit code."""
    return passphrase(), resolve(spec, teams=tuple(team.name for team in spec.paas.teams if not team.owns_workloads))


def open_stack(spec: Spec) -> auto.Stack:
    """The stack of `open_environment` (for callers that need only the stack)."""
    return open_environment(spec).stack


def open_environment(
    spec: Spec, refresh: bool = False, rotate: Callable[[LinkerdIdentity], LinkerdIdentity] | None = None
) -> Environment:
    """Select (or create) the environment's stack with the inline program bound to `spec`; `refresh` says whether
    the operation reads the cluster first (the program records it for the next `up`, stacks/engine/fingerprint.py)."""
    secret, secrets = read_secrets(spec)
    missing = releases.mirror_problems(spec)
    if missing:
        raise UsageError(
            f"the chart mirror {releases.chart_mirror(spec).describe()} lacks what {spec.name} installs:\n  "
            + "\n  ".join(missing)
        )
    place = places(spec)
    target = ClusterTarget.of(spec)
    crds = gateway_api.plan(spec, target)
    adopted = target.adopted_namespaces(spec_namespaces(spec))
    for folder in (place.work_dir, place.pulumi_home):
        folder.mkdir(parents=True, exist_ok=True)
    if place.backend_url.startswith("file://"):
        Path(place.backend_url[len("file://") :]).mkdir(parents=True, exist_ok=True)
    backend = state_backend(spec)
    saved = backend.saved_state(PROJECT, spec.name)  # None: a backend the engine alone reads (S3)
    cell: dict[str, Any] = {}  # what the program below declares when the engine runs it

    def declare() -> None:
        from ..program import program

        program.build(
            spec,
            secrets,
            crds,
            program.Recording(cell["inputs"], refresh, cell.get("read_at")),
            cell["layout"],
            cell["record"],
            adopted,
        )

    variables = engine_env(place, secret, state_password(spec), sum(len(team.apps) for team in spec.paas.teams))
    select = _selector(spec.name, place, variables, declare, saved)
    own = backend if saved is not None else None
    env = Environment(
        spec.name,
        own,
        select,
        target,
        cell,
        lambda layout, record: fingerprint.inputs_fingerprint(
            spec, secrets, crds, target, secret, layout, record, adopted
        ),
        lambda state: recorded_inputs(state, secret),
        asked_as=spec.named,
    )
    state = read_state(env)
    if spec.mesh.linkerd:  # the program and the fingerprint read `secrets` when they run: from here on, with it
        secrets = replace(secrets, identity=linkerd_identity(spec, secrets, state, secret, rotate))
        cell["identity"] = secrets.identity
    env.lay_out(upgrade.layout_from(spec, state), upgrade.in_progress(state))
    return env


def linkerd_identity(
    spec: Spec,
    secrets: ResolvedSecrets,
    state: Recorded,
    passphrase: str,
    rotate: Callable[[LinkerdIdentity], LinkerdIdentity] | None = None,
) -> LinkerdIdentity:
    """Linkerd's identity for the next run: the spec's, or what meshinstall made and the state keeps; `rotate`
    (`meshinstall certs rotate`) makes the next one from it."""
    from ..program import identity

    previous = identity.LinkerdIdentity.from_record(recorded_secret(state, identity.IDENTITY_OUTPUT, passphrase))
    now = identity.current(spec.mesh.identity, secrets.identity_given, previous)
    return rotate(now) if rotate else now


def _selector(
    name: str, place: Places, variables: dict[str, str], declare: Callable[[], None], saved: Any
) -> Callable[[], auto.Stack]:
    """How stack `name` is selected (or created) with the inline program `declare`, when the engine first runs."""

    def select() -> auto.Stack:
        from pulumi import automation as auto

        from ..program import program
        from . import sdk
        from .automation import Workspace

        program.import_ahead()  # beside the engine's start, not in the program's thread
        sdk.apply()  # the program then waits for its outputs in linear time (stacks/engine/sdk.py)
        try:
            workspace = Workspace(
                saved=bool(saved and saved[1] is not None),
                work_dir=str(place.work_dir),
                pulumi_home=str(place.pulumi_home),
                pulumi_command=toolchain.command(),
                env_vars=variables,
                secrets_provider="passphrase",
                program=declare,
                project_settings=auto.ProjectSettings(
                    name=PROJECT, runtime="python", main=os.getcwd(), backend=auto.ProjectBackend(place.backend_url)
                ),
            )
            return auto.Stack.create_or_select(name, workspace)
        except auto.errors.CommandError as err:
            raise failure(f"opening the stack at {place.backend_url}", name, err, Journal(), Interrupts()) from err

    return select


def open_team(spec: Spec, team: Team, refresh: bool = False, kubeconfig: str | None = None) -> Environment:
    """Select (or create) team `team`'s own stack (`<environment>.<team>`) with its program: its workloads, applied
    through `kubeconfig` (the team's identity; default: the environment's cluster, as the platform reaches it). It
    reads only the team's secrets, and nothing of the cluster outside the team's namespaces."""
    secret = passphrase()
    secrets = resolve(spec, teams=(team.name,), grafana=False)
    place = places(spec, team.name)
    platform = ClusterTarget.of(spec)
    target = ClusterTarget(spec.name, kubeconfig or platform.kubeconfig, None if kubeconfig else platform.context)
    for folder in (place.work_dir, place.pulumi_home):
        folder.mkdir(parents=True, exist_ok=True)
    if place.backend_url.startswith("file://"):
        Path(place.backend_url[len("file://") :]).mkdir(parents=True, exist_ok=True)
    name = stack_name(spec, team.name)
    backend = state_backend(spec)
    saved = backend.saved_state(PROJECT, name)
    args = team_workloads_args(spec, team, secrets.app_env)
    cell: dict[str, Any] = {}

    def declare() -> None:
        from ..program import program
        from ..program.team import build_team

        recording = program.Recording(cell["inputs"], refresh, cell.get("read_at"))
        build_team(spec.name, args, recording)

    # A team's stack takes over what the platform's applied before the team owned its workloads (stacks/state/
    # handover.py): its server-side apply takes the fields the platform's field managers still hold.
    variables = engine_env(place, secret, state_password(spec), len(team.apps)) | {
        "PULUMI_K8S_ENABLE_PATCH_FORCE": "true",
        "KUBECONFIG": kube.pinned(target.kubeconfig, target.context, place.work_dir),
    }
    env = Environment(
        name,
        backend if saved is not None else None,
        _selector(name, place, variables, declare, saved),
        target,
        cell,
        lambda layout, record: fingerprint.team_fingerprint(secret, args, secrets, target),
        lambda state: recorded_inputs(state, secret),
        tuple(team.namespaces),
        spec.named,
    )
    env.lay_out(upgrade.steady(spec, None), None)
    return env


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
        return LastUpdate(
            entry.get("kind", ""),
            entry.get("result", ""),
            datetime.fromtimestamp(entry["startTime"], timezone.utc),
            datetime.fromtimestamp(end, timezone.utc) if isinstance(end, int) else None,
        )
    stack = engine_stack()
    history = engine_call("history", lambda: stack.history(page_size=1), stack.name)
    return (
        LastUpdate(history[0].kind, history[0].result, history[0].start_time, history[0].end_time) if history else None
    )


def read_state(source: auto.Stack | Environment) -> Recorded:
    """What the state of an environment (or a stack) records, no secret decrypted: read from the backend directly
    (a folder, PostgreSQL), else exported by the engine."""
    backend, engine_stack = _reading(source)
    saved = backend.saved_state(PROJECT, source.name) if backend else None
    if saved is not None:
        try:
            deployment = state_file.latest(*saved)
            if deployment is not None:
                return recorded(deployment)
        except state_file.StateUnreadable:
            pass  # the engine's own export says why
    stack = engine_stack()
    return recorded(engine_call("export", stack.export_stack, stack.name).deployment)


def engine_call(operation: str, fn: Callable[[], Any], env: str = "ENV") -> Any:
    """A short engine call (history, export, outputs): its failure as a one-line cause."""
    from pulumi import automation as auto

    try:
        return fn()
    except auto.errors.CommandError as err:
        raise failure(operation, env, err, Journal(), Interrupts()) from err
