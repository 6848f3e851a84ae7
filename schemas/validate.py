"""Validates a spec against the JSON Schema and the semantic rules, and returns the immutable model."""

from __future__ import annotations

import copy
import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__, cache_dir
from ..errors import SpecInvalid, SpecProblem
from . import json_schema, loader, model, rules, score
from .json_schema import deref, describe, schema, schema_text, validator_class
from .loader import Document

if TYPE_CHECKING:  # jsonschema is imported when a document is validated (`schema_problems`)
    from jsonschema import Draft202012Validator


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return validator_class()(schema())


def load_spec(path: Path) -> model.Spec:
    """Load, merge and validate `path`; raises SpecInvalid with every problem found."""
    doc = loader.load(path)
    if doc.data is None or doc.incomplete:  # only what was found reading the files: the rest would be false alarms
        raise SpecInvalid(doc.problems)
    found = schema_problems(doc)
    problems = doc.problems + [p for p in found if (p.file, p.line, p.column) not in doc.suppressed]
    if problems:
        raise SpecInvalid(problems)
    data = with_defaults(doc.data)
    spec, problems = score.with_workloads(to_model(data, path), doc)
    problems += [p for rule in rules.RULES for p in rule(spec, doc)]
    if problems:
        raise SpecInvalid(problems)
    return spec


def to_model(data: dict[str, Any], path: Path) -> model.Spec:
    """Build the model from defaulted data; the content hash covers the merged spec."""
    for team in data.get("paas", {}).get("teams", []):
        team.setdefault("namespaces", [team["name"]])
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    spec = model.build(model.Spec, data)
    return model.Spec(**{**spec.__dict__, "source": path.resolve(), "content_hash": digest})


def schema_problems(doc: Document) -> list[SpecProblem]:
    """Every JSON Schema violation, each at the file, line and column of the offending value."""
    record, digest = _validated(doc)
    if digest and _read(record) == digest:
        return []
    problems: list[SpecProblem] = []
    for error in _validator().iter_errors(doc.data):
        problems.extend(describe(error, doc))
    if digest and not problems:
        try:
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text(digest, encoding="utf-8")
        except OSError:  # a record that cannot be written only costs the next command the validation
            pass
    return problems


def _validated(doc: Document) -> tuple[Path, str]:
    """Where the last document of this spec file that the schema accepted is recorded, and this document's digest
    ("" when it has none).

    Every command loads its spec, and the schema's validation (importing jsonschema, then walking the document) came
    before anything else: 0.06 s of an `up` with nothing to do at 10 apps, ahead of the passphrase's key
    (bench/results.md, stop 24). The digest covers the merged document, the schema, this module and meshinstall's
    version, so the same document is not validated again by the same meshinstall. A document the schema rejects is
    validated, and reported, every time."""
    record = cache_dir() / "validated" / hashlib.sha256(os.fsencode("".join(doc.files[:1]))).hexdigest()[:32]
    try:
        text = json.dumps(doc.data, sort_keys=True)
    except (TypeError, ValueError):  # a value JSON has no form for (a YAML date): validated every time
        return record, ""
    digest = hashlib.sha256()
    for part in (
        __version__,
        schema_text(),
        Path(__file__).read_text(encoding="utf-8") + Path(json_schema.__file__).read_text(encoding="utf-8"),
        text,
    ):
        digest.update(part.encode())
    return record, digest.hexdigest()


def _read(record: Path) -> str | None:
    try:
        return record.read_text(encoding="utf-8")
    except OSError:
        return None


def with_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of schema-valid data with every default from the schema filled in."""
    out = copy.deepcopy(data)
    if (out.get("mesh") or {}).get(
        "provider"
    ) == "linkerd":  # Kiali and Linkerd's tracing are not installed with Linkerd
        monitoring = out.setdefault("monitoring", {})
        for piece in ("kiali", "tracing"):
            monitoring.setdefault(piece, {}).setdefault("enabled", False)
    _fill(schema(), out)
    return out


def _fill(node: dict[str, Any], value: Any) -> None:
    node = deref(node)
    if isinstance(value, dict):
        for key, prop in node.get("properties", {}).items():
            prop = deref(prop)
            if key not in value and "default" in prop:
                value[key] = copy.deepcopy(prop["default"])
            if key in value:
                _fill(prop, value[key])
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            for key in value:
                if key not in node.get("properties", {}):
                    _fill(extra, value[key])
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for item in value:
            _fill(node["items"], item)
