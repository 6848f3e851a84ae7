"""The Score files the schemas accepted before, by content: an unchanged workload file is neither parsed nor
validated again (as validate._validated spares the environment spec its validation). At 100 teams of 10 workloads,
validating every file took 0.9 s of a `meshinstall validate` and parsing them 0.4 s; reading the record takes 0.02 s.
A document from the record has no positions until a problem needs one: then its file is parsed."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .. import __version__, cache_dir
from ..errors import SpecProblem
from . import loader, score_schema
from .loader import Document, Path_


class RecordedDocument(Document):
    """A Score file's data from the record; its positions are read from the file when a problem is located."""

    def __init__(self, data: Any, path: Path) -> None:
        super().__init__(data=data, files=(loader.display_name(path),))
        self.path = path

    def problem(self, path: Path_, message: str, hint: str = "", at_key: bool = False) -> SpecProblem:
        """A problem located at `path` (the file parsed for its positions the first time)."""
        if not self.positions:
            parsed = loader.parse_file(self.path)
            self.positions, self.keys = parsed.positions, parsed.keys
        return super().problem(path, message, hint, at_key)


@functools.cache
def _salt() -> hashlib._Hash:
    """The digest of what reading and validating a file depends on besides its bytes: meshinstall's version, both
    schemas, and the code that parses, validates and reports."""
    digest = hashlib.sha256()
    for part in (__version__, score_schema.schema_texts(), *(Path(m.__file__).read_text("utf-8") for m in _code())):
        digest.update(part.encode())
    return digest


def _code() -> tuple[Any, ...]:
    from . import json_schema

    return loader, score_schema, json_schema


def digest(raw: bytes) -> str:
    """The digest of one Score file's content."""
    digest = _salt().copy()
    digest.update(raw)
    return digest.hexdigest()


def record(spec_file: str) -> Path:
    """Where the Score files accepted for one environment spec are kept (their data by digest)."""
    name = hashlib.sha256(b"score:" + os.fsencode(Path(spec_file).resolve())).hexdigest()[:32]
    return cache_dir() / "validated" / name


def accepted(spec_file: str) -> dict[str, Any]:
    """The data of each Score file accepted when this environment was last validated, by digest."""
    try:
        found = json.loads(record(spec_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def remember(spec_file: str, now: dict[str, Any], before: dict[str, Any]) -> None:
    """Keep the files accepted now (a record that cannot be written only costs the next command the work)."""
    if now.keys() == before.keys():
        return
    path = record(spec_file)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(now), encoding="utf-8")
    except (OSError, TypeError, ValueError):  # a value JSON has no form for (a YAML date): not recorded
        pass
