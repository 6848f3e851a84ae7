"""Validates a spec against the JSON Schema and the semantic rules, and returns the immutable model."""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__, cache_dir
from ..errors import SpecInvalid, SpecProblem
from . import loader, model, rules
from .loader import Document

if TYPE_CHECKING:  # jsonschema is imported when a document is validated (`schema_problems`)
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SCHEMA_FILE = "mesh-spec.schema.json"
SPEC_DOCS = "docs/spec-reference.md"
# Score's spelling of a DNS label (the names of workloads, ports, containers)
DNS_LABEL = "^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$"
SCORE_NAME_HINT = "lowercase letters, digits and '-', 2 to 63 characters, starting and ending with a letter or digit"

PATTERN_HINTS = {
    "dnsLabel": "lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters",
    "dnsSubdomain": "lowercase letters, digits, '-' and '.', at most 253 characters",
    "hostname": "a DNS name such as app.example.com",
    "hostPattern": "a DNS name, optionally starting with '*.' (*.apps.example.com)",
    "cpu": "a CPU quantity such as 250m, 1 or 0.5 (quote it)",
    "memory": "a memory quantity such as 128Mi or 2Gi",
    "duration": "a duration such as 500ms, 5s, 1m",
    "envName": "an environment variable name: letters, digits and '_', not starting with a digit",
    "image": "an image with a tag or digest, e.g. registry.example.com/team/app:1.2.3",
}


@lru_cache(maxsize=1)
def _schema_text() -> str:
    return resources.files("meshinstall.schemas").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The spec's JSON Schema (shipped with the package)."""
    return json.loads(_schema_text())


@lru_cache(maxsize=1)
def validator_class() -> type[Draft202012Validator]:
    """The Draft 2020-12 validator meshinstall validates YAML documents with (the spec's, and Score files')."""
    from jsonschema import Draft202012Validator, validators

    # YAML integers only: JSON Schema would take 8080.0 as an integer, and the model would keep a float.
    checker = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    return validators.extend(Draft202012Validator, type_checker=checker)


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return validator_class()(schema())


def load_spec(path: Path) -> model.Spec:
    """Load, merge and validate `path`; raises SpecInvalid with every problem found."""
    doc = loader.load(path)
    if doc.data is None:
        raise SpecInvalid(doc.problems)
    found = schema_problems(doc)
    problems = doc.problems + [p for p in found if (p.file, p.line, p.column) not in doc.suppressed]
    if problems:
        raise SpecInvalid(problems)
    from . import score  # here: score's modules validate with this one's validator and reporting

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
    record = cache_dir() / "validated" / hashlib.sha256("".join(doc.files[:1]).encode()).hexdigest()[:32]
    try:
        text = json.dumps(doc.data, sort_keys=True)
    except (TypeError, ValueError):  # a value JSON has no form for (a YAML date): validated every time
        return record, ""
    digest = hashlib.sha256()
    for part in (__version__, _schema_text(), Path(__file__).read_text(encoding="utf-8"), text):
        digest.update(part.encode())
    return record, digest.hexdigest()


def _read(record: Path) -> str | None:
    try:
        return record.read_text(encoding="utf-8")
    except OSError:
        return None


def describe(
    error: ValidationError, doc: Document, root: dict[str, Any] | None = None, docs: str = SPEC_DOCS
) -> Iterator[SpecProblem]:
    """The located problems of one schema error in `doc`; `root` is the schema whose `$defs` its `$ref`s name (the
    spec's by default) and `docs` the page a hint falls back to."""
    if error.context:
        from jsonschema.exceptions import best_match

        error = best_match(error.context)
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        for key in sorted(set(error.instance) - set(allowed)):
            yield doc.problem(path + (key,), f"unknown property {key!r}", _suggest(key, allowed), at_key=True)
        return
    if "propertyNames" in error.absolute_schema_path:
        name = error.instance
        hint = _pattern_hint(_deref(error.schema, root), root) or "use another name"
        yield doc.problem(path + (name,), f"{name!r} is not a valid name here", hint, at_key=True)
        return
    if error.validator == "required":
        for missing in (name for name in error.validator_value if name not in error.instance):
            yield doc.problem(path, f"missing required property {missing!r}", f"add `{missing}:`")
        return
    message, hint = _explain(error, doc.raw.get(path), root, docs)
    yield doc.problem(path, message, hint)


def _suggest(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"allowed here: {', '.join(allowed)}" if allowed else "remove it"


def _explain(error: ValidationError, source: str | None, root: dict[str, Any] | None, docs: str) -> tuple[str, str]:
    """A message and a fix for one schema error; `source` is the value's text when YAML read it as a number."""
    value, rule, sub = error.instance, error.validator, _deref(error.schema, root)
    shown = source or (json.dumps(value) if not isinstance(value, (dict, list)) else _type_name(value))
    if "fromEnv" in sub.get("properties", {}):
        if isinstance(value, dict):
            return "a secret reference names exactly one source", "write {fromEnv: VARIABLE} or {fromFile: path}"
        return (
            "a secret must be a reference, not a plaintext value",
            "use {fromEnv: VARIABLE} or {fromFile: path}; plaintext secrets are not allowed",
        )
    if rule == "type":
        expected = error.validator_value
        hint = (
            f'quote it ("{source or value}")'
            if expected == "string" and isinstance(value, (int, float, bool))
            else f"write {_article(expected)}"
        )
        given = (
            f"{_article(_type_name(value))} ({shown})"
            if not isinstance(value, (dict, list)) and value is not None
            else _article(_type_name(value))
        )
        return f"expected {_article(expected)}, got {given}", hint
    if rule == "enum":
        options = [str(o) for o in error.validator_value]
        close = difflib.get_close_matches(str(value), options, n=1)
        return f"{shown} is not allowed", (
            f"did you mean {close[0]!r}? " if close else ""
        ) + f"use one of: {', '.join(options)}"
    if rule == "const":
        return f"{shown} is not supported", f"write {error.validator_value!r}"
    if rule == "pattern":
        return f"{shown} is not valid", _pattern_hint(sub, root) or sub.get(
            "description"
        ) or f"must match {error.validator_value}"
    if rule in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return error.message.replace("'", ""), _range(sub)
    return error.message, (sub.get("description") or f"see {docs}")


def _range(sub: dict[str, Any]) -> str:
    low = (
        f">= {sub['minimum']}"
        if "minimum" in sub
        else f"> {sub['exclusiveMinimum']}"
        if "exclusiveMinimum" in sub
        else ""
    )
    high = (
        f"<= {sub['maximum']}"
        if "maximum" in sub
        else f"< {sub['exclusiveMaximum']}"
        if "exclusiveMaximum" in sub
        else ""
    )
    return "allowed: " + " and ".join(part for part in (low, high) if part)


def _article(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _type_name(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", dict: "mapping", list: "list"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _pattern_hint(sub: dict[str, Any], root: dict[str, Any] | None = None) -> str:
    for definitions in (schema()["$defs"], (root or {}).get("$defs", {})):
        for name, hint in PATTERN_HINTS.items():
            if definitions.get(name, {}).get("pattern") == sub.get("pattern"):
                return hint
    return SCORE_NAME_HINT if sub.get("pattern") == DNS_LABEL else ""


def with_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of schema-valid data with every default from the schema filled in."""
    out = copy.deepcopy(data)
    _fill(schema(), out)
    return out


def _fill(node: dict[str, Any], value: Any) -> None:
    node = _deref(node)
    if isinstance(value, dict):
        for key, prop in node.get("properties", {}).items():
            prop = _deref(prop)
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


def _deref(node: dict[str, Any], root: dict[str, Any] | None = None) -> dict[str, Any]:
    """`node` with its `$ref` (to a `$defs` entry of `root`, the spec's schema by default) merged in."""
    ref = node.get("$ref")
    if not ref or not ref.startswith("#/$defs/"):
        return node
    root = root or schema()
    target = _deref(root["$defs"][ref.rsplit("/", 1)[-1]], root)
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
