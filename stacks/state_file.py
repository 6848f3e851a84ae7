"""The stack's state as the engine saved it (a file, or a PostgreSQL row: stacks/backend.py), read without the
engine: for the engine-free `up`, `repair` and `doctor`."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

# How the engine's passphrase secrets provider derives its key (pkg/secrets/passphrase): PBKDF2-SHA256 over the
# salt in the state, then AES-256-GCM; the salt's own ciphertext decrypts to this word when the passphrase is right.
PBKDF2_ROUNDS = 1_000_000
CHECK_WORD = b"pulumi"


class StateUnreadable(Exception):
    """The state file exists but is not a state the engine can load (damaged, cut short)."""


# The last state parsed, per place: one command reads the same state several times (open, recover, nothing to do,
# checks), and at 1000 apps each parse of its 40 MB took a second.
_parsed: dict[str, tuple[bytes, dict[str, Any]]] = {}


def latest(where: str, data: bytes | None) -> dict[str, Any] | None:
    """The deployment a saved state holds (None when the stack has no state yet); StateUnreadable if damaged.
    Callers read it and do not change it: the same bytes give the same object."""
    if data is None:
        return None
    known = _parsed.get(where)
    if known and known[0] == data:
        return known[1]
    try:
        deployment = json.loads(data)["checkpoint"].get("latest") or {}
        _parsed[where] = (data, deployment)
        return deployment
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise StateUnreadable(f"{where} is not a readable state ({type(err).__name__}: {str(err)[:80]}); the engine keeps the previous one in {where}.bak") from err


def passphrase_opens(deployment: dict[str, Any], passphrase: str) -> bool | None:
    """Whether `passphrase` opens the deployment's secrets (None when it has no passphrase provider)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    provider = deployment.get("secrets_providers") or {}
    salt_state = (provider.get("state") or {}).get("salt", "") if provider.get("type") == "passphrase" else ""
    parts = salt_state.split(":")
    if len(parts) != 5:
        return None
    _, salt, _, nonce, ciphertext = parts
    key = hashlib.pbkdf2_hmac("sha256", passphrase.encode(), base64.b64decode(salt), PBKDF2_ROUNDS, 32)
    try:
        return AESGCM(key).decrypt(base64.b64decode(nonce), base64.b64decode(ciphertext), None) == CHECK_WORD
    except InvalidTag:
        return False
