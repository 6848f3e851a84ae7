"""Reads spec YAML safely, keeps the file/line/column of every value, and applies `extends`."""

from __future__ import annotations

import functools
import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import SpecProblem

Path_ = tuple[str | int, ...]

MAX_NODES = 100_000  # bounds alias expansion ("billion laughs")
MAX_BYTES = 5_000_000
# Collections nested in one another, checked before the YAML is composed: a real spec nests a few levels, and the
# composer recurses once per level (a libyaml measured elsewhere crashed the process at 25,000 nested `[`).
MAX_DEPTH = 200
OPENS = (
    yaml.FlowSequenceStartToken,
    yaml.FlowMappingStartToken,
    yaml.BlockSequenceStartToken,
    yaml.BlockMappingStartToken,
)
CLOSES = (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken, yaml.BlockEndToken)
AMBIGUOUS_BOOLEANS = re.compile(r"^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$")
INT = re.compile(r"^[-+]?[0-9]+$")
HEX = re.compile(r"^0x[0-9a-fA-F]+$")
OCT = re.compile(r"^0o[0-7]+$")
FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
SPECIAL_FLOATS = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}

STR_TAG = "tag:yaml.org,2002:str"
KNOWN_TAGS = {
    STR_TAG,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:merge",
}


@dataclass(frozen=True)
class Position:
    """Where a value stands in a file (1-based line and column)."""

    file: str
    line: int
    column: int


@dataclass
class Document:
    """A parsed spec: plain data, the position of every JSON path in it, and problems found reading it."""

    data: Any
    positions: dict[Path_, Position] = field(default_factory=dict)  # where each value starts
    keys: dict[Path_, Position] = field(default_factory=dict)  # where each mapping key stands
    raw: dict[Path_, str] = field(default_factory=dict)  # source text of plain numbers (`1.30` stays `1.30`)
    problems: list[SpecProblem] = field(default_factory=list)
    files: tuple[str, ...] = ()
    suppressed: set[tuple[str, int, int]] = field(default_factory=set)  # values the loader already reported
    # the `extends` chain could not be applied (a base that does not parse, is missing, or may not be read): the data
    # lacks what the base holds, so checking it against the schema would report the base's values as missing
    incomplete: bool = False

    def position(self, path: Path_) -> Position:
        """The position of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(tuple(path[:end]))
            if found:
                return found
        return Position(self.files[0] if self.files else "<spec>", 1, 1)

    def problem(self, path: Path_, message: str, hint: str = "", at_key: bool = False) -> SpecProblem:
        """A problem located at `path`'s value (or its key), else at its nearest located ancestor."""
        where = self.keys.get(path) if at_key else None
        where = where or self.position(path)
        return SpecProblem(where.file, where.line, where.column, json_path(path), message, hint)


def json_path(path: Path_) -> str:
    """Render a path as `$.paas.teams[1].name`."""
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def display_name(path: Path) -> str:
    """A file name as the user should see it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(_cwd()))
    except ValueError:
        return str(path)


@functools.lru_cache(maxsize=1)
def _cwd_at(cwd: str) -> Path:
    return Path(cwd).resolve()


def _cwd() -> Path:
    """The working directory, resolved once for each (a thousand team files are named relative to it)."""
    return _cwd_at(os.getcwd())


class _Builder:
    """Turns a composed YAML node tree into plain data, recording positions and problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.positions: dict[Path_, Position] = {}
        self.keys: dict[Path_, Position] = {}
        self.raw: dict[Path_, str] = {}
        self.problems: list[SpecProblem] = []
        self.suppressed: set[tuple[str, int, int]] = set()
        self.count = 0
        self.active: set[int] = set()  # nodes being built: an alias back to one of them is a cycle

    def _at(self, node: yaml.Node) -> Position:
        return Position(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def problem(self, node: yaml.Node, path: Path_, message: str, hint: str = "", replaces_value: bool = False) -> None:
        where = self._at(node)
        self.problems.append(SpecProblem(self.file, where.line, where.column, json_path(path), message, hint))
        if replaces_value:  # the schema would only repeat this problem in other words
            self.suppressed.add((where.file, where.line, where.column))

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge(node)
        self.positions[path] = self._at(node)
        if node.tag not in KNOWN_TAGS:
            self.problem(node, path, f"unsupported YAML tag {node.tag}", "remove the tag", replaces_value=True)
            return None
        if id(node) in self.active:
            self.problem(
                node,
                path,
                "an alias refers to the mapping or list that contains it",
                "remove the recursive alias",
                replaces_value=True,
            )
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
            return self.scalar(node, path)
        finally:
            self.active.discard(id(node))

    def mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, yaml.Node] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<" and not key_node.style:
                merges.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, path, "a mapping key must be a plain string", "use a scalar key")
                continue
            key = key_node.value
            if key in seen:
                first = seen[key].start_mark
                self.problem(
                    key_node,
                    path + (key,),
                    f"duplicate key {key!r} (first defined at line {first.line + 1})",
                    "keep one of the two",
                )
                continue
            seen[key] = key_node
            self.keys[path + (key,)] = self._at(key_node)
            result[key] = self.build(value_node, path + (key,))
        for merge in merges:
            self.merge(merge, path, result)
        return result

    def merge(self, value_node: yaml.Node, path: Path_, result: dict[str, Any]) -> None:
        """YAML merge keys (`<<: *base`): explicit keys win; merged values keep the anchor's positions."""
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for source in sources:
            own = self.positions, self.keys
            self.positions, self.keys = {}, {}
            merged = self.build(source, path)
            built, built_keys = self.positions, self.keys
            self.positions, self.keys = own
            if not isinstance(merged, dict):
                self.problem(source, path, "a merge key (<<) needs a mapping", "merge an anchored mapping")
                continue
            for key, value in merged.items():
                if key in result:
                    continue
                result[key] = value
                prefix = path + (key,)
                self.positions.update({p: at for p, at in built.items() if p[: len(prefix)] == prefix})
                self.keys.update({p: at for p, at in built_keys.items() if p[: len(prefix)] == prefix})

    def scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        text = node.value
        # plain: None (Python parser) or "" (libyaml)
        if node.tag == STR_TAG and not node.style and not _explicit_tag(node):
            return self.plain(node, path, text)
        if node.tag in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp"):
            return text
        if node.tag == "tag:yaml.org,2002:null":
            return None
        if node.tag == "tag:yaml.org,2002:bool":
            return text.lower() == "true"
        try:
            if node.tag == "tag:yaml.org,2002:int":
                return int(text, 0) if not INT.match(text) else int(text)
            return float(text)
        except ValueError:
            self.problem(
                node,
                path,
                f"{text!r} is not a valid {node.tag.rsplit(':', 1)[-1]}",
                "fix the value or drop the tag",
                replaces_value=True,
            )
            return text

    def plain(self, node: yaml.ScalarNode, path: Path_, text: str) -> Any:
        """Resolve an untagged plain scalar the YAML 1.2 way, flagging YAML 1.1 booleans."""
        if text in ("", "~", "null", "Null", "NULL"):
            return None
        if text in ("true", "True", "TRUE", "false", "False", "FALSE"):
            return text.lower() == "true"
        if AMBIGUOUS_BOOLEANS.match(text):
            self.problem(
                node,
                path,
                f"{text!r} is ambiguous in YAML (a boolean in YAML 1.1, a string in 1.2)",
                f'write true/false for a boolean, or quote it ("{text}") for a string',
                replaces_value=True,
            )
            return text
        if INT.match(text) or HEX.match(text) or OCT.match(text) or FLOAT.match(text):
            self.raw[path] = text
            if FLOAT.match(text) and not INT.match(text):
                return float(text)
            return int(text, 16) if HEX.match(text) else int(text[2:], 8) if OCT.match(text) else int(text)
        if text.lower() in SPECIAL_FLOATS:
            self.problem(
                node,
                path,
                f"{text} is not a finite number",
                "write a number, or quote it for a string",
                replaces_value=True,
            )
            return SPECIAL_FLOATS[text.lower()]
        return text


def _explicit_tag(node: yaml.ScalarNode) -> bool:
    return node.tag.startswith("!") or bool(getattr(node, "explicit_tag", False))


class _TooLarge(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


class _Composer(yaml.SafeLoader):
    """Composes node trees only; every plain scalar resolves to str and is typed by `_Builder`."""

    def compose_scalar_node(self, anchor: str | None) -> yaml.ScalarNode:
        event = self.peek_event()
        node = super().compose_scalar_node(anchor)
        node.explicit_tag = event.tag not in (None, "!")  # type: ignore[attr-defined]
        return node


_Composer.yaml_implicit_resolvers = {}


class _FastComposer(getattr(yaml, "CSafeLoader", _Composer)):  # type: ignore[misc]
    """libyaml's composer, 10x faster at a thousand apps; it cannot tell `!!str 5` from a plain `5`, so a text that
    could spell the str tag explicitly goes to `_Composer`."""


_FastComposer.yaml_implicit_resolvers = {}
EXPLICIT_STR = re.compile(r"!!str|tag:yaml\.org,2002:str|%TAG")


def _composer(text: str) -> type[yaml.SafeLoader]:
    return _Composer if EXPLICIT_STR.search(text) else _FastComposer


class NotAFile(Exception):
    """The path names a device, a FIFO, a socket or a folder: reading it could block or never end."""


def read_bounded(path: Path) -> bytes:
    """A regular file's bytes, at most MAX_BYTES + 1 of them (enough to tell that it is too large); NotAFile for
    anything else: `/dev/zero` would be read without end, and a FIFO would wait for a writer."""
    kind = path.stat().st_mode
    if not stat.S_ISREG(kind):
        what = "a folder" if stat.S_ISDIR(kind) else "a FIFO" if stat.S_ISFIFO(kind) else "a device or socket"
        raise NotAFile(f"{display_name(path)} is {what}, not a file")
    with open(path, "rb") as handle:
        return handle.read(MAX_BYTES + 1)


def repository_root(path: Path) -> Path | None:
    """The Git top-level folder that holds `path` (a `.git` folder, or file for a worktree), else None."""
    for folder in path.resolve().parents:
        if (folder / ".git").exists():
            return folder
    return None


def parse_file(path: Path) -> Document:
    """Parse one YAML file into a Document; problems are collected, never raised."""
    name = display_name(path)
    doc = Document(data=None, files=(name,))
    try:
        raw = read_bounded(path)
    except OSError as err:
        doc.problems.append(SpecProblem(name, 1, 1, "$", f"cannot read the file: {err.strerror}", "check the path"))
        return doc
    except NotAFile as err:
        doc.problems.append(SpecProblem(name, 1, 1, "$", str(err), "give the path of a spec file"))
        return doc
    if len(raw) > MAX_BYTES:
        doc.problems.append(
            SpecProblem(name, 1, 1, "$", f"file is over {MAX_BYTES} bytes", f"a spec is at most {MAX_BYTES} bytes")
        )
        return doc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        doc.problems.append(SpecProblem(name, 1, 1, "$", f"not UTF-8 text ({err.reason})", "save the file as UTF-8"))
        return doc
    return parse_text(text, name)


def too_deep(text: str) -> tuple[int, int] | None:
    """Where the text's collections nest deeper than MAX_DEPTH (line, column), from the scanner's tokens, which do not
    recurse; None when they do not, or when the scanner stops first (the composer then says why)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH and len(text) <= 2 * MAX_DEPTH * MAX_DEPTH:
        return None  # too few brackets to nest that deep in flow, too short to indent that deep in blocks
    depth = 0
    try:
        for token in yaml.scan(text, Loader=yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):
            if isinstance(token, OPENS):
                depth += 1
                if depth > MAX_DEPTH:
                    return token.start_mark.line + 1, token.start_mark.column + 1
            elif isinstance(token, CLOSES):
                depth -= 1
    except yaml.YAMLError:
        return None
    return None


def parse_text(text: str, name: str) -> Document:
    """Parse YAML text that claims to be from file `name`."""
    doc = Document(data=None, files=(name,))
    deep = too_deep(text)
    if deep:
        doc.problems.append(
            SpecProblem(name, *deep, "$", f"the YAML nests more than {MAX_DEPTH} levels deep", "flatten the document")
        )
        return doc
    try:
        nodes = list(yaml.compose_all(text, Loader=_composer(text)))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = err.problem or str(err)
        if err.context and err.context_mark and err.context_mark is not mark:
            what += f" ({err.context} at line {err.context_mark.line + 1})"
        doc.problems.append(SpecProblem(name, line, col, "$", f"YAML syntax error: {what}", "fix the YAML syntax"))
        return doc
    except yaml.YAMLError as err:
        doc.problems.append(SpecProblem(name, 1, 1, "$", f"YAML error: {err}", "fix the YAML syntax"))
        return doc
    except RecursionError:
        doc.problems.append(SpecProblem(name, 1, 1, "$", "the YAML is nested too deeply", "flatten the document"))
        return doc
    nodes = [n for n in nodes if n is not None]
    if not nodes:
        doc.problems.append(
            SpecProblem(name, 1, 1, "$", "the file is empty", "write a MeshSpec mapping (see `meshinstall init`)")
        )
        return doc
    if len(nodes) > 1:
        mark = nodes[1].start_mark
        doc.problems.append(
            SpecProblem(
                name, mark.line + 1, mark.column + 1, "$", "more than one YAML document", "keep one spec per file"
            )
        )
        return doc
    builder = _Builder(name)
    try:
        doc.data = builder.build(nodes[0], ())
    except _TooLarge as err:
        mark = err.node.start_mark
        doc.problems.append(
            SpecProblem(
                name,
                mark.line + 1,
                mark.column + 1,
                "$",
                f"more than {MAX_NODES} values after expanding aliases",
                "use fewer aliases",
            )
        )
        return doc
    except RecursionError:
        doc.problems.append(SpecProblem(name, 1, 1, "$", "the YAML is nested too deeply", "flatten the document"))
        return doc
    doc.positions, doc.keys, doc.raw, doc.suppressed = builder.positions, builder.keys, builder.raw, builder.suppressed
    doc.problems.extend(builder.problems)
    if not isinstance(doc.data, dict):
        kind = "a list" if isinstance(doc.data, list) else "a single value"
        start = nodes[0].start_mark
        doc.problems.append(
            SpecProblem(
                name,
                start.line + 1,
                start.column + 1,
                "$",
                f"the spec must be a mapping, not {kind}",
                "start with `apiVersion: meshinstall/v1`",
            )
        )
        doc.data = None
    return doc


def load(path: Path) -> Document:
    """Load a spec with its `extends` chain merged in; problems point at the file that holds the value. A spec extends
    only YAML files inside its repository (its Git work tree; outside Git, the folder above the spec's, so that
    `environments/dev.yaml` may extend `../base.yaml`): a spec from someone else's branch must not make `validate`
    print another file of this machine."""
    resolved = path.resolve()
    return _load(resolved, (), repository_root(resolved) or resolved.parent.parent)


def _load(path: Path, chain: tuple[Path, ...], root: Path) -> Document:
    doc = parse_file(path)
    if not isinstance(doc.data, dict) or "extends" not in doc.data:
        return doc
    base_ref = doc.data.pop("extends")
    where = doc.positions[("extends",)]
    if not isinstance(base_ref, str) or not base_ref:
        doc.problems.append(_at(where, "$.extends", "must be a relative file path", "write e.g. `extends: base.yaml`"))
        return _incomplete(doc)
    try:
        base_path = (path.parent / base_ref).resolve()
        found = base_path.is_file()
    except (OSError, ValueError) as err:
        doc.problems.append(
            _at(where, "$.extends", f"not a usable file path ({err})", "write e.g. `extends: base.yaml`")
        )
        return _incomplete(doc)
    if base_path == path or base_path in chain:
        names = " -> ".join(display_name(p) for p in (*chain, path, base_path))
        doc.problems.append(_at(where, "$.extends", f"extends cycle: {names}", "remove one of the extends"))
        return _incomplete(doc)
    if not found:
        doc.problems.append(
            _at(where, "$.extends", f"base spec {base_ref!r} not found", "the path is relative to this file")
        )
        return _incomplete(doc)
    if base_path.suffix not in (".yaml", ".yml") or not base_path.is_relative_to(root):
        doc.problems.append(
            _at(
                where,
                "$.extends",
                f"{base_ref!r} is not a spec file of this repository ({display_name(root)})",
                "extend a .yaml or .yml file inside the repository",
            )
        )
        return _incomplete(doc)
    base = _load(base_path, (*chain, path), root)
    if not isinstance(base.data, dict) or base.incomplete:
        doc.problems.extend(base.problems)
        return _incomplete(doc)
    merged = Document(
        data=merge(base.data, doc.data),
        positions=merge_positions(base.positions, base.data, doc.positions, doc.data),
        keys=merge_positions(base.keys, base.data, doc.keys, doc.data),
        raw=merge_positions(base.raw, base.data, doc.raw, doc.data),
        problems=base.problems + doc.problems,
        files=doc.files + base.files,
        suppressed=base.suppressed | doc.suppressed,
    )
    return merged


def _incomplete(doc: Document) -> Document:
    doc.incomplete = True
    return doc


def _at(where: Position, path: str, message: str, hint: str) -> SpecProblem:
    return SpecProblem(where.file, where.line, where.column, path, message, hint)


SECRET_SOURCES = {"fromEnv", "fromFile"}


def merge(base: Any, override: Any) -> Any:
    """Deep merge: maps merge key by key, everything else (lists, scalars) is replaced.

    A secret reference ({fromEnv: ...} or {fromFile: ...}) is one value: it replaces the base's whole, so an
    environment can switch a secret from a variable to a file.
    """
    is_secret = isinstance(override, dict) and override and set(override) <= SECRET_SOURCES
    if isinstance(base, dict) and isinstance(override, dict) and not is_secret:
        out = dict(base)
        for key, value in override.items():
            out[key] = merge(base[key], value) if key in base else value
        return out
    return override


def merge_positions(
    base: dict[Path_, Any], base_data: Any, override: dict[Path_, Any], override_data: Any
) -> dict[Path_, Any]:
    """Per-path facts after `merge`: a value replaced by the override takes the override's."""
    kept = {p: pos for p, pos in base.items() if not _replaced(p, base_data, override_data)}
    kept.update(override)
    return kept


def _replaced(path: Path_, base_data: Any, override_data: Any) -> bool:
    node_base, node_over = base_data, override_data
    for part in path:
        if not isinstance(node_over, dict) or not isinstance(node_base, dict):
            return True
        if part not in node_over:
            return False
        node_base, node_over = node_base.get(part), node_over[part]
    return not (isinstance(node_base, dict) and isinstance(node_over, dict))
