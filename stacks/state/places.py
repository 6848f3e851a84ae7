"""Where an environment's files are: its state backend, the engine's work folder and PULUMI_HOME."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ...schemas.model import Spec
from .backend import Backend, LocalLockBackend, readable
from .secrets import state_password

if TYPE_CHECKING:
    from .recorded import Recorded

PROJECT = "meshinstall"


@dataclass(frozen=True)
class Places:
    """Where an environment's engine files live, all under the spec's folder unless the backend is shared."""

    root: Path
    work_dir: Path
    pulumi_home: Path
    backend_url: str


def stack_name(spec: Spec, team: str | None = None) -> str:
    """The platform's stack is named after the environment; a team's own stack `<environment>.<team>`."""
    return spec.name if team is None else f"{spec.name}.{team}"


def places(spec: Spec, team: str | None = None) -> Places:
    """State folder next to the spec: `.meshinstall/` holds the backend (by default), work dir and PULUMI_HOME. A
    team's stack has a PULUMI_HOME of its own: a run knows its engine processes by it (stacks/cluster/recovery.py),
    so one team's `up` never takes another's for what a dead run left."""
    root = spec.base_dir / ".meshinstall"
    backend = spec.state.backend
    if backend.startswith("file://"):
        path = spec.resolve_path(backend[len("file://") :])
        backend = f"file://{path}"
    name = stack_name(spec, team)
    home = root / "pulumi-home" if team is None else root / "team-homes" / name
    return Places(root, root / "work" / name, home, backend)


def state_backend(spec: Spec) -> Backend:
    """The environment's state backend, as meshinstall reads and locks it beside the engine (stacks/state/backend.py)."""
    place = places(spec)
    return readable(place.backend_url, state_password(spec)) or LocalLockBackend(
        place.backend_url, place.root / "locks"
    )


def saved_record(spec: Spec) -> Recorded | None:
    """What the environment's state records, read from its backend when meshinstall reads it itself (a folder,
    PostgreSQL), no secret decrypted; None when there is none, or the engine alone reads it (S3), or it cannot be
    read (the commands after the caller's say why)."""
    from ...errors import MeshinstallError
    from . import state_file
    from .recorded import recorded

    try:
        saved = state_backend(spec).saved_state(PROJECT, spec.name)
        deployment = state_file.latest(*saved) if saved else None
    except (state_file.StateUnreadable, MeshinstallError, OSError):
        return None
    return recorded(deployment) if deployment else None
