"""`meshinstall diff ENV1 ENV2`: two environments' merged specs compared field by field, each value with the file,
line and column it comes from (an `extends` base, the environment's own file, or the schema's default)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..schemas import loader, resolve_environment
from ..schemas.loader import Document, json_path
from ..schemas.validate import load_spec, with_defaults

MISSING = object()


@dataclass(frozen=True)
class Side:
    """One environment's value at a path, and where it comes from ("default" when the schema gave it)."""

    value: Any
    origin: str

    def to_dict(self) -> dict[str, Any]:
        return {"value": None if self.value is MISSING else self.value, "from": self.origin}


@dataclass(frozen=True)
class Difference:
    """A JSON path whose value differs between the two environments."""

    path: str
    left: Side
    right: Side

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "left": self.left.to_dict(), "right": self.right.to_dict()}


def diff(left: str, right: str) -> list[Difference]:
    """Every leaf whose value differs (a list compares as a whole when its length differs), in path order. Both
    specs must validate: the comparison is of what `up` would read."""
    docs = [_loaded(env) for env in (left, right)]
    flat = [dict(_leaves(with_defaults(doc.data))) for doc in docs]
    found = []
    for path in sorted(set(flat[0]) | set(flat[1]), key=_order):
        values = [f.get(path, MISSING) for f in flat]
        if values[0] != values[1]:
            found.append(
                Difference(json_path(path), *(_side(v, doc, path) for v, doc in zip(values, docs, strict=True)))
            )
    return found


def _loaded(env: str) -> Document:
    path = resolve_environment(env)
    load_spec(path)  # SpecInvalid (exit 3) with every problem: a diff of an invalid spec would mislead
    return loader.load(path)


def _leaves(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(path, value) of every scalar, and of every empty mapping or list."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            yield from _leaves(item, (*path, i))
    else:
        yield path, value


def _order(path: tuple) -> tuple:
    return tuple((0, p) if isinstance(p, int) else (1, p) for p in path)


def _side(value: Any, doc: Document, path: tuple) -> Side:
    if value is MISSING:
        return Side(MISSING, "not set")
    where = doc.positions.get(path)
    if where is None:
        return Side(value, "default")
    return Side(value, f"{loader.display_name(Path(where.file))}:{where.line}:{where.column}")
