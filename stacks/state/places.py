"""Where an environment's files are: its state backend, the engine's work folder and PULUMI_HOME."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...schemas.model import Spec
from .backend import Backend, LocalLockBackend, readable
from .secrets import state_password

PROJECT = "meshinstall"


@dataclass(frozen=True)
class Places:
    """Where an environment's engine files live, all under the spec's folder unless the backend is shared."""

    root: Path
    work_dir: Path
    pulumi_home: Path
    backend_url: str


def places(spec: Spec) -> Places:
    """State folder next to the spec: `.meshinstall/` holds the backend (by default), work dir and PULUMI_HOME."""
    root = spec.base_dir / ".meshinstall"
    backend = spec.state.backend
    if backend.startswith("file://"):
        path = spec.resolve_path(backend[len("file://") :])
        backend = f"file://{path}"
    return Places(root, root / "work" / spec.name, root / "pulumi-home", backend)


def state_backend(spec: Spec) -> Backend:
    """The environment's state backend, as meshinstall reads and locks it beside the engine (stacks/state/backend.py)."""
    place = places(spec)
    return readable(place.backend_url, state_password(spec)) or LocalLockBackend(
        place.backend_url, place.root / "locks"
    )
