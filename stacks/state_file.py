"""The state file of a file backend, read without the engine: for the engine-free `up`, `repair` and `doctor`."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

# How the engine's passphrase secrets provider derives its key (pkg/secrets/passphrase): PBKDF2-SHA256 over the
# salt in the state, then AES-256-GCM; the salt's own ciphertext decrypts to this word when the passphrase is right.
PBKDF2_ROUNDS = 1_000_000
CHECK_WORD = b"pulumi"


class StateUnreadable(Exception):
    """The state file exists but is not a state the engine can load (damaged, cut short)."""


def path(backend_url: str, project: str, stack: str) -> Path | None:
    """The stack's state file in a `file://` backend (None for other backends)."""
    if not backend_url.startswith("file://"):
        return None
    return Path(backend_url[len("file://"):]) / ".pulumi" / "stacks" / project / f"{stack}.json"


def latest(file: Path) -> dict[str, Any] | None:
    """The deployment the state file holds (None when the stack has no state yet); StateUnreadable if damaged."""
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return json.loads(data)["checkpoint"].get("latest") or {}
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise StateUnreadable(f"{file} is not a readable state ({type(err).__name__}: {str(err)[:80]}); the engine keeps the previous one in {file.name}.bak") from err


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
