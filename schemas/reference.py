"""Generates the spec reference (docs/spec-reference.md) from the schema's descriptions and defaults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .validate import _deref, schema


def rows(node: dict[str, Any], path: str) -> Iterator[tuple[str, str, str, str]]:
    """(path, type, default, description) for every property below `node`."""
    node = _deref(node)
    for key, prop in node.get("properties", {}).items():
        prop = _deref(prop)
        here = f"{path}.{key}" if path else key
        yield here, _type(prop), _default(prop), prop.get("description", "")
        yield from rows(prop, here)
        items = prop.get("items")
        if isinstance(items, dict) and _deref(items).get("properties"):
            yield from rows(items, f"{here}[]")


def _type(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    if "fromEnv" in prop.get("properties", {}):
        return "secret ref"
    return str(prop.get("type", "object"))


def _default(prop: dict[str, Any]) -> str:
    if "default" not in prop or prop["default"] in ({}, []):
        return ""
    return f"`{json.dumps(prop['default'])}`"


def markdown() -> str:
    """The whole reference page."""
    top = schema()
    required = set(top.get("required", []))
    lines = [
        "# Mesh spec reference",
        "",
        "Generated from `schemas/mesh-spec.schema.json` by `python -m meshinstall.schemas.reference`; do not edit by hand.",
        f"Required at the top level: {', '.join(f'`{r}`' for r in top['required'])}.",
        "",
        "| key | type | default | description |",
        "|---|---|---|---|",
    ]
    for path, kind, default, text in rows(top, ""):
        name = f"**{path}**" if path in required else path
        lines.append(f"| {name} | {kind} | {default} | {text.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
