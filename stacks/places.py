"""Where an environment's files are: its state backend, the engine's work folder and PULUMI_HOME; and the head start
on the passphrase's key. Light to import, so that a command can start that derivation before the driver is loaded."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..errors import UsageError
from ..schemas.model import Spec
from . import state_file
from .backend import Backend, LocalLockBackend, readable
from .secrets import state_password

PROJECT = "meshinstall"
PASSPHRASE_VARIABLE = "MESHINSTALL_PASSPHRASE"


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
        path = spec.resolve_path(backend[len("file://"):])
        backend = f"file://{path}"
    return Places(root, root / "work" / spec.name, root / "pulumi-home", backend)


def state_backend(spec: Spec) -> Backend:
    """The environment's state backend, as meshinstall reads and locks it beside the engine (stacks/backend.py)."""
    place = places(spec)
    return readable(place.backend_url, state_password(spec)) or LocalLockBackend(place.backend_url, place.root / "locks")


def passphrase(environ: Mapping[str, str] | None = None) -> str:
    """The state encryption passphrase, from MESHINSTALL_PASSPHRASE."""
    value = (os.environ if environ is None else environ).get(PASSPHRASE_VARIABLE)
    if not value:
        raise UsageError(f"{PASSPHRASE_VARIABLE} is not set: it encrypts this environment's secrets in the state (export {PASSPHRASE_VARIABLE}=...)")
    return value


def derive_key_ahead(spec: Spec) -> None:
    """Start deriving the passphrase's key for the environment's state in a thread of its own, as soon as the spec
    is loaded and before the driver is imported. Doctor's MI011 and the reading of the last update's fingerprint need
    it; the derivation (PBKDF2, in a Python of its own: state_file `_pbkdf2_sha256`) runs beside the imports, the lock
    and the cluster checks instead of after them (bench/results.md, stops 23 and 25). A head start only: what goes wrong
    here, the checks and the engine say."""
    secret = os.environ.get(PASSPHRASE_VARIABLE)

    def derive() -> None:
        try:
            saved = state_backend(spec).saved_state(PROJECT, spec.name)
            salt = state_file.salt_in(*saved) if saved and saved[1] else None
            if salt:
                state_file.derive_key(secret, salt)
        except Exception:  # noqa: BLE001, S110
            pass

    if secret:
        threading.Thread(target=derive, name="key-derivation", daemon=True).start()
