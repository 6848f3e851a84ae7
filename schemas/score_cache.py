"""Which Score documents the schemas accepted before: an unchanged workload file is not validated again, as the
environment spec is not (validate._validated). At 100 teams of 10 workloads, validating every file took 0.9 s of a
`meshinstall validate`; the digests take 0.02 s."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from .. import __version__, cache_dir
from . import score_schema


@functools.cache
def _salt() -> hashlib._Hash:
    """The digest of what a validation depends on besides the document: meshinstall's version, both schemas, and
    the code that validates and reports."""
    digest = hashlib.sha256()
    for part in (__version__, score_schema.schema_texts(), *(Path(m.__file__).read_text("utf-8") for m in _code())):
        digest.update(part.encode())
    return digest


def _code() -> tuple[Any, ...]:
    from . import validate

    return score_schema, validate


def digest(data: Any) -> str:
    """The digest of one Score document ("" for one JSON has no form for: validated every time)."""
    try:
        text = json.dumps(data, sort_keys=True)
    except (TypeError, ValueError):
        return ""
    digest = _salt().copy()
    digest.update(text.encode())
    return digest.hexdigest()


def record(spec_file: str) -> Path:
    """Where the digests of the Score documents accepted for one environment spec are kept."""
    name = hashlib.sha256(f"score:{Path(spec_file).resolve()}".encode()).hexdigest()[:32]
    return cache_dir() / "validated" / name


def accepted(spec_file: str) -> frozenset[str]:
    """The digests accepted when this environment was last validated."""
    try:
        return frozenset(record(spec_file).read_text(encoding="utf-8").split())
    except OSError:
        return frozenset()


def remember(spec_file: str, digests: frozenset[str], before: frozenset[str]) -> None:
    """Keep the digests accepted now (a record that cannot be written only costs the next command the validation)."""
    if digests == before:
        return
    path = record(spec_file)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(sorted(digests)), encoding="utf-8")
    except OSError:
        pass
