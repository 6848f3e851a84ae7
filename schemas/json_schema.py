"""The JSON Schemas meshinstall validates YAML documents with (the spec's; Score files' use the same validator
class), and their errors told as located problems a person can act on."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from ..errors import SpecProblem
from .loader import Document

if TYPE_CHECKING:  # jsonschema is imported when a document is validated
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
def schema_text() -> str:
    return resources.files("meshinstall.schemas").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The spec's JSON Schema (shipped with the package)."""
    return json.loads(schema_text())


@lru_cache(maxsize=1)
def validator_class() -> type[Draft202012Validator]:
    """The Draft 2020-12 validator meshinstall validates YAML documents with (the spec's, and Score files')."""
    from jsonschema import Draft202012Validator, validators

    # YAML integers only: JSON Schema would take 8080.0 as an integer, and the model would keep a float.
    checker = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    return validators.extend(Draft202012Validator, type_checker=checker)


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
        hint = _pattern_hint(deref(error.schema, root), root) or "use another name"
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
    value, rule, sub = error.instance, error.validator, deref(error.schema, root)
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


def deref(node: dict[str, Any], root: dict[str, Any] | None = None) -> dict[str, Any]:
    """`node` with its `$ref` (to a `$defs` entry of `root`, the spec's schema by default) merged in."""
    ref = node.get("$ref")
    if not ref or not ref.startswith("#/$defs/"):
        return node
    root = root or schema()
    target = deref(root["$defs"][ref.rsplit("/", 1)[-1]], root)
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
