"""Drives the Pulumi Automation API: one stack per environment, an inline program, local or shared state."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import urllib3
from kubernetes.config import ConfigException
from pulumi import automation as auto

from ..errors import ClusterUnreachable, EngineFailed, UsageError
from ..schemas.model import Spec
from . import engine, gateway_api, program, releases, unchanged
from .secrets import resolve
from .target import ClusterTarget

PROJECT = "meshinstall"
PASSPHRASE_VARIABLE = "MESHINSTALL_PASSPHRASE"
EventHandler = Callable[[auto.EngineEvent], None]
# Resource operations at once. Most of an operation is waiting on the API server (a Deployment until it is
# available), so the engine's default of 4 per core left a 2-core machine with 8 waits in flight.
PARALLEL = 64
# The toolchain's engine (toolchain/pulumi/patches) saves the state at most this often during an operation, and at
# its end, instead of after every step: a step-by-step save rewrites the whole state each time, which made a
# 100-app `up` spend most of its time writing checkpoints. A crash loses at most this much of the record.
CHECKPOINT_INTERVAL_MS = 5000


@dataclass(frozen=True)
class Places:
    """Where an environment's engine files live, all under the spec's folder unless the backend is shared."""

    root: Path
    work_dir: Path
    pulumi_home: Path
    backend_url: str


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


def places(spec: Spec) -> Places:
    """State folder next to the spec: `.meshinstall/` holds the backend (by default), work dir and PULUMI_HOME."""
    root = spec.base_dir / ".meshinstall"
    backend = spec.state.backend
    if backend.startswith("file://"):
        path = spec.resolve_path(backend[len("file://"):])
        backend = f"file://{path}"
    return Places(root, root / "work" / spec.name, root / "pulumi-home", backend)


def passphrase(environ: Mapping[str, str] | None = None) -> str:
    """The state encryption passphrase, from MESHINSTALL_PASSPHRASE."""
    value = (os.environ if environ is None else environ).get(PASSPHRASE_VARIABLE)
    if not value:
        raise UsageError(f"{PASSPHRASE_VARIABLE} is not set: it encrypts this environment's secrets in the state (export {PASSPHRASE_VARIABLE}=...)")
    return value


def engine_env(place: Places, secret: str) -> dict[str, str]:
    """Environment of every engine run: offline, meshinstall's own PULUMI_HOME, the backend and passphrase."""
    return {
        "PULUMI_HOME": str(place.pulumi_home),
        "PULUMI_BACKEND_URL": place.backend_url,
        "PULUMI_CONFIG_PASSPHRASE": secret,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_SKIP_CONFIRMATIONS": "true",
        "MESHINSTALL_CHECKPOINT_INTERVAL_MS": str(CHECKPOINT_INTERVAL_MS),
        "PATH": engine.search_path(),
    }


@dataclass(frozen=True)
class Environment:
    """An opened stack, the fingerprint of what its program reads (stacks/unchanged.py) and its cluster."""

    stack: auto.Stack
    inputs: str
    target: ClusterTarget


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
    restart_if_stopped(spec)
    target = ClusterTarget.of(spec)
    crds = gateway_api.plan(spec, target)
    inputs = unchanged.inputs_fingerprint(spec, secrets, crds, target, secret)
    for folder in (place.work_dir, place.pulumi_home):
        folder.mkdir(parents=True, exist_ok=True)
    if place.backend_url.startswith("file://"):
        Path(place.backend_url[len("file://"):]).mkdir(parents=True, exist_ok=True)
    env = engine_env(place, secret)
    workspace = auto.LocalWorkspaceOptions(
        work_dir=str(place.work_dir),
        pulumi_home=str(place.pulumi_home),
        pulumi_command=engine.command(),
        env_vars=env,
        secrets_provider="passphrase",
        project_settings=auto.ProjectSettings(name=PROJECT, runtime="python", backend=auto.ProjectBackend(place.backend_url)),
    )
    try:
        stack = auto.create_or_select_stack(
            stack_name=spec.name,
            project_name=PROJECT,
            program=lambda: program.build(spec, secrets, crds, unchanged.Recording(inputs, refresh)),
            opts=workspace,
        )
    except auto.errors.CommandError as err:
        raise EngineFailed(f"cannot open stack {spec.name!r} at {place.backend_url}: {_last_lines(err)}") from err
    return Environment(stack, inputs, target)


def nothing_to_do(env: Environment, refresh: bool) -> tuple[Outcome | None, str]:
    """The outcome of an `up` or `preview` that has nothing to do, found without the engine; else None and why
    the engine must run (stacks/unchanged.py)."""
    history = _engine_call("history", lambda: env.stack.history(page_size=1))
    if not history or history[0].kind != "update" or history[0].result != "succeeded":
        return None, "the last operation on the stack was not a successful update"
    state = unchanged.recorded(_engine_call("export", env.stack.export_stack).deployment)
    if state.pending:
        return None, "the state records operations that were interrupted"
    if state.inputs != env.inputs:
        return None, "the spec, a secret, the charts, the cluster or meshinstall changed since the last update"
    if refresh and not state.refreshed:
        return None, "the last update did not read the cluster (--no-refresh)"
    if refresh:
        try:
            changed = unchanged.changed_objects(env.target, state, history[0].start_time)
        except (OSError, RuntimeError, urllib3.exceptions.HTTPError, ConfigException) as err:
            return None, f"the cluster could not be read ({err})"
        if changed:
            return None, f"{len(changed)} object(s) touched in the cluster since the last update, first {changed[0]}"
    return Outcome("up", {"same": state.resources}, state.outputs), f"nothing changed since the last update ({history[0].end_time or history[0].start_time:%Y-%m-%d %H:%M})"


def restart_if_stopped(spec: Spec) -> bool:
    """A simulated cluster created earlier whose processes died (reboot, crash) or run outdated flags restarts on its data."""
    from ..simulator import ControlPlaneError

    plane = ClusterTarget.of(spec).control_plane()
    try:
        return plane.ensure() if plane else False
    except ControlPlaneError as err:
        raise ClusterUnreachable(f"the simulated cluster of {spec.name} did not restart: {err}") from err


def _last_lines(err: Exception, count: int = 6) -> str:
    lines = [line for line in str(err).splitlines() if line.strip()]
    return "\n".join(lines[-count:])


def _engine_call(operation: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except auto.errors.ConcurrentUpdateError as err:
        raise EngineFailed(f"{operation}: the stack is locked by another update (if that run died, remove its lock file: see `meshinstall doctor`, check MI003)") from err
    except auto.errors.CommandError as err:
        raise EngineFailed(f"{operation} failed:\n{_last_lines(err, 12)}") from err


def preview(stack: auto.Stack, on_event: EventHandler | None = None, expect_no_changes: bool = False, refresh: bool = False) -> Outcome:
    """What `up` would change."""
    result = _engine_call("preview", lambda: stack.preview(on_event=on_event, parallel=PARALLEL, expect_no_changes=expect_no_changes, refresh=refresh, color="never"))
    return Outcome("preview", dict(result.change_summary))


def up(stack: auto.Stack, on_event: EventHandler | None = None, refresh: bool = True) -> Outcome:
    """Apply the spec; like `terraform apply`, it first refreshes, so hand-made changes (drift) are put back."""
    result = _engine_call("up", lambda: stack.up(on_event=on_event, parallel=PARALLEL, refresh=refresh, color="never"))
    return Outcome("up", dict(result.summary.resource_changes or {}), _plain(result.outputs), result.summary.result)


def refresh(stack: auto.Stack, on_event: EventHandler | None = None) -> Outcome:
    """Read the cluster back into the state; reports drift."""
    result = _engine_call("refresh", lambda: stack.refresh(on_event=on_event, parallel=PARALLEL, color="never"))
    return Outcome("refresh", dict(result.summary.resource_changes or {}), {}, result.summary.result)


def destroy(stack: auto.Stack, on_event: EventHandler | None = None) -> Outcome:
    """Remove everything the stack created."""
    result = _engine_call("destroy", lambda: stack.destroy(on_event=on_event, parallel=PARALLEL, color="never"))
    return Outcome("destroy", dict(result.summary.resource_changes or {}), {}, result.summary.result)


def status(stack: auto.Stack) -> dict[str, Any]:
    """Outputs (secrets masked) and the last update."""
    history = _engine_call("status", lambda: stack.history(page_size=1))
    last = history[0] if history else None
    return {
        "environment": stack.name,
        "outputs": _plain(_engine_call("status", stack.outputs)),
        "lastUpdate": None if last is None else {
            "kind": last.kind, "result": last.result, "started": last.start_time.isoformat(), "ended": last.end_time.isoformat() if last.end_time else None,
            "changes": dict(last.resource_changes or {}),
        },
    }


def _plain(outputs: Mapping[str, auto.OutputValue]) -> dict[str, Any]:
    return {k: ("[secret]" if v.secret else v.value) for k, v in outputs.items() if k not in (unchanged.INPUTS_OUTPUT, unchanged.REFRESHED_OUTPUT)}
