"""The stack's state as the engine saved it (a file, or a PostgreSQL row: stacks/state/backend.py), read without the
engine: for the engine-free `up`, `repair` and `doctor`."""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import Any

# How the engine's passphrase secrets provider derives its key (pkg/secrets/passphrase): PBKDF2-SHA256 over the
# salt in the state, then AES-256-GCM; the salt's own ciphertext decrypts to this word when the passphrase is right.
PBKDF2_ROUNDS = 1_000_000
CHECK_WORD = b"pulumi"
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"  # marks a secret value in Pulumi's state format


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
        raise StateUnreadable(
            f"{where} is not a readable state ({type(err).__name__}: {str(err)[:80]}); the engine keeps the previous one in {where}.bak"
        ) from err


def passphrase_opens(deployment: dict[str, Any], passphrase: str) -> bool | None:
    """Whether `passphrase` opens the deployment's secrets (None when it has no passphrase provider)."""
    salt_state = secrets_salt(deployment)
    if salt_state is None:
        return None
    _, salt, *check = salt_state.split(":")
    return _decrypt(_key(passphrase, salt), ":".join(check)) == CHECK_WORD


def secrets_salt(deployment: Mapping[str, Any]) -> str | None:
    """The passphrase provider's state (`v1:<salt>:v1:<nonce>:<ciphertext>`, the check word encrypted), if it has one."""
    provider = deployment.get("secrets_providers") or {}
    salt_state = (provider.get("state") or {}).get("salt", "") if provider.get("type") == "passphrase" else ""
    return salt_state if len(salt_state.split(":")) == 5 else None


# The engine writes the passphrase provider's state before the resources: within the first 64 KB of a saved state.
_SALT = re.compile(rb'"salt"\s*:\s*"(v1:[^"]*)"')


def salt_in(where: str, data: bytes) -> str | None:
    """The passphrase provider's state of a saved state, read from its first bytes rather than from the parsed
    whole (a parse of 37 MB at 1000 apps takes half a second); from the parsed whole when it is not there."""
    found = _SALT.search(data, 0, 65536)
    if found and len(found.group(1).split(b":")) == 5:
        return found.group(1).decode()
    return secrets_salt(latest(where, data) or {})


def open_secret(value: Any, salt_state: str, passphrase: str) -> Any:
    """The plaintext of a secret value of the state (`{SECRET_SIGNATURE: ..., "ciphertext": "v1:<nonce>:<ciphertext>"}`,
    JSON inside); None when it is not one or the passphrase does not open it."""
    if not (isinstance(value, Mapping) and SECRET_SIGNATURE in value and isinstance(value.get("ciphertext"), str)):
        return None
    plaintext = _decrypt(_key(passphrase, salt_state.split(":")[1]), value["ciphertext"])
    return json.loads(plaintext) if plaintext is not None else None


def derive_key(passphrase: str, salt_state: str) -> None:
    """Derive the key of the passphrase and a state's salt now, for the reads of its secrets that come later (a
    command starts this in a thread of its own: stacks/state/places.py `derive_key_ahead`)."""
    _key(passphrase, salt_state.split(":")[1])


_KEY_DERIVATION = threading.Lock()


def _key(passphrase: str, salt: str) -> bytes:
    """The AES key of the passphrase and salt: one derivation per command, even when two threads ask at once."""
    with _KEY_DERIVATION:
        return _derived_key(passphrase, salt)


@functools.cache  # once per command, shared by doctor's MI011 and the reading of the fingerprint
def _derived_key(passphrase: str, salt: str) -> bytes:
    return _pbkdf2_sha256(passphrase.encode(), base64.b64decode(salt))


def _pbkdf2_sha256(secret: bytes, salt: bytes) -> bytes:
    """PBKDF2-HMAC-SHA256 as Pulumi's passphrase provider derives its key, in a Python of its own with the OpenSSL
    that `cryptography` bundles: 0.16-0.18 s there, its start included, on the other core. hashlib's, through the
    system's OpenSSL 3.0, takes 0.27-0.30 s, and `cryptography`'s in this process would hold the interpreter (and
    the command) for its 0.15 s (bench/results.md, stop 25). If that Python fails, hashlib's here."""
    try:
        return _pbkdf2_apart(secret, salt)
    except (OSError, subprocess.SubprocessError, ValueError):
        return hashlib.pbkdf2_hmac("sha256", secret, salt, PBKDF2_ROUNDS, 32)


# Run isolated and without site (-I -S: a bare start), with cryptography's folder as its path; the secret comes on
# stdin, after the salt's line, never in the arguments or the environment.
_DERIVE = """import sys
sys.path.append(sys.argv[1])
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
salt, secret = sys.stdin.buffer.read().split(b"\\n", 1)
sys.stdout.write(PBKDF2HMAC(hashes.SHA256(), 32, bytes.fromhex(salt.decode()), int(sys.argv[2])).derive(secret).hex())
"""


def _pbkdf2_apart(secret: bytes, salt: bytes) -> bytes:
    found = importlib.util.find_spec("cryptography")
    if not (found and found.origin and sys.executable):
        raise ValueError("no cryptography package or Python executable to run it")
    folder = os.path.dirname(os.path.dirname(found.origin))
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _DERIVE, folder, str(PBKDF2_ROUNDS)],
        input=salt.hex().encode() + b"\n" + secret,
        capture_output=True,
        check=True,
        timeout=60,
        env={},
    )
    key = bytes.fromhex(done.stdout.decode())
    if len(key) != 32:
        raise ValueError("the derivation gave no key")
    return key


def _decrypt(key: bytes, encrypted: str) -> bytes | None:
    """AES-256-GCM of `v1:<nonce>:<ciphertext>` (base64); None when the key does not open it."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    parts = encrypted.split(":")
    if len(parts) != 3:
        return None
    try:
        return AESGCM(key).decrypt(base64.b64decode(parts[1]), base64.b64decode(parts[2]), None)
    except (InvalidTag, ValueError):
        return None
