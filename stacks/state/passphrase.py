"""The passphrase that encrypts an environment's secrets in its state, and the head start on its key. Light to
import, so that an operation can start that derivation before the engine's side is loaded."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

from ...errors import UsageError
from ...schemas.model import Spec
from . import state_file
from .places import PROJECT, state_backend

PASSPHRASE_VARIABLE = "MESHINSTALL_PASSPHRASE"


def passphrase(environ: Mapping[str, str] | None = None) -> str:
    """The state encryption passphrase, from MESHINSTALL_PASSPHRASE."""
    value = (os.environ if environ is None else environ).get(PASSPHRASE_VARIABLE)
    if not value:
        raise UsageError(
            f"{PASSPHRASE_VARIABLE} is not set: it encrypts this environment's secrets in the state (export {PASSPHRASE_VARIABLE}=...)"
        )
    return value


def derive_key_ahead(spec: Spec) -> None:
    """Start deriving the passphrase's key for the environment's state in a thread of its own, as soon as the spec
    is loaded and before the engine's side is imported. Doctor's MI011 and the reading of the last update's fingerprint need
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
