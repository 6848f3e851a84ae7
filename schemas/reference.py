"""Generates the spec reference (docs/spec-reference.md) from the schema's descriptions and defaults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .json_schema import deref, schema
from .score_schema import extension_schema


def rows(node: dict[str, Any], path: str, root: dict[str, Any] | None = None) -> Iterator[tuple[str, str, str, str]]:
    """(path, type, default, description) for every property below `node` (whose `$ref`s point into `root`, the
    spec's schema by default)."""
    node = deref(node, root)
    for key, prop in node.get("properties", {}).items():
        prop = deref(prop, root)
        here = f"{path}.{key}" if path else key
        yield here, _type(prop), _default(prop), prop.get("description", "")
        yield from rows(prop, here, root)
        items = prop.get("items")
        if isinstance(items, dict) and deref(items, root).get("properties"):
            yield from rows(items, f"{here}[]", root)


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
    return "\n".join(lines + _workloads()) + "\n"


def _workloads() -> list[str]:
    """The section on team workload files: what meshinstall reads in a Score file beyond the official schema."""
    extension = extension_schema()
    lines = [
        "",
        "## Team workload files (Score)",
        "",
        "A team's `workloads` folder holds one Score file (`score.dev/v1b1`) per workload; [score.md](score.md) tells",
        "how a file becomes an app, the resource types meshinstall provides (`service-port`, `route`, `environment`),",
        "secrets, defaults, and the Score fields it does not support. The `metadata.meshinstall` block, from",
        "`schemas/score-extension.schema.json`:",
        "",
        "| key | type | default | description |",
        "|---|---|---|---|",
    ]
    for path, kind, default, text in rows(extension["$defs"]["extension"], "metadata.meshinstall", extension):
        lines.append(f"| {path} | {kind} | {default} | {text.replace('|', '/')} |")
    return lines


if __name__ == "__main__":
    print(markdown(), end="")
