"""Validates a team's Score file: the official Score schema (vendored), meshinstall's extension, and what meshinstall
refuses (docs/score.md)."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Iterator
from importlib import resources
from typing import TYPE_CHECKING, Any

from ..errors import SpecProblem
from . import json_schema
from .loader import Document
from .quantity import bytes_of, millicores

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

SCORE_SCHEMA = "score/score-v1b1.json"
EXTENSION_SCHEMA = "score-extension.schema.json"
SCORE_DOCS = "docs/score.md"
RESOURCE_TYPES = ("service-port", "route", "environment")
UNSUPPORTED_CONTAINER_KEYS = {
    "files": (
        "files are not supported: meshinstall mounts no files into containers",
        "bake the file into the image, or pass its value as a variable; a secret through an environment resource",
    ),
    "volumes": (
        "volumes are not supported: meshinstall provisions no volumes",
        "keep state in a service the workload calls, through a service-port resource",
    ),
    "before": (
        "container start order is not supported: a workload's containers start together",
        "remove `before`; let the container wait for what it needs",
    ),
}


def _read(name: str) -> str:
    return resources.files("meshinstall.schemas").joinpath(name).read_text(encoding="utf-8")


@functools.cache
def score_schema() -> dict[str, Any]:
    """The official Score schema, score.dev/v1b1 (schemas/score/README.md says where it came from)."""
    return json.loads(_read(SCORE_SCHEMA))


@functools.cache
def extension_schema() -> dict[str, Any]:
    """meshinstall's schema of what it reads beyond the official one (`metadata.meshinstall`, resource params)."""
    return json.loads(_read(EXTENSION_SCHEMA))


@functools.cache
def schema_texts() -> str:
    """Both schemas' text (for caches that must forget what they validated when a schema changes)."""
    return _read(SCORE_SCHEMA) + _read(EXTENSION_SCHEMA)


@functools.cache
def _score_validator() -> Draft202012Validator:
    return json_schema.validator_class()(score_schema())


@functools.cache
def _extension_validator() -> Draft202012Validator:
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    spec = json_schema.schema()
    registry = Registry().with_resource(spec["$id"], DRAFT202012.create_resource(spec))
    return json_schema.validator_class()(extension_schema(), registry=registry)


@functools.cache
def _fast_checks() -> tuple[Callable[[Any], Any], ...]:
    """Both schemas compiled to Python by fastjsonschema: a file is accepted 50 times faster than by jsonschema's
    validators (1000 files: 0.03 s against 1.3 s), which only then run, on a file one of these refuses, to report
    every problem at its place. Defaults are not filled in: the data is left as read."""
    import fastjsonschema

    # copies: compiling rewrites a schema's references in place, and the reference docs read these schemas
    spec = copy.deepcopy(json_schema.schema())
    return (
        fastjsonschema.compile(copy.deepcopy(score_schema()), use_default=False),
        fastjsonschema.compile(
            copy.deepcopy(extension_schema()), handlers={"https": lambda uri: spec}, use_default=False
        ),
    )


def _accepted_fast(data: Any) -> bool:
    """Whether both compiled schemas accept `data`. fastjsonschema takes 8080.0 for an integer, which the spec's
    validators refuse (stacks read YAML integers only): a document with a float goes the slow way."""
    if _has_float(data):
        return False
    import fastjsonschema

    try:
        for check in _fast_checks():
            check(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def _has_float(data: Any) -> bool:
    if isinstance(data, float):
        return True
    if isinstance(data, dict):
        return any(_has_float(v) for v in data.values())
    if isinstance(data, list):
        return any(_has_float(v) for v in data)
    return False


def schema_problems(doc: Document) -> list[SpecProblem]:
    """The official schema's problems with a Score file, then the extension's (one problem per place)."""
    if _accepted_fast(doc.data):
        return []
    found: dict[tuple[int, int, str], SpecProblem] = {}
    for validator, root in ((_score_validator(), score_schema()), (_extension_validator(), extension_schema())):
        for error in validator.iter_errors(doc.data):
            for problem in json_schema.describe(error, doc, root, SCORE_DOCS):
                found.setdefault((problem.line, problem.column, problem.path), problem)
    return list(found.values())


def unsupported(doc: Document) -> Iterator[SpecProblem]:
    """What the Score schema allows but meshinstall does not provide, each with the reason in its hint."""
    data = _mapping(doc.data)
    for name, container in _mapping(data.get("containers")).items():
        container = _mapping(container)
        for key, (message, hint) in UNSUPPORTED_CONTAINER_KEYS.items():
            if key in container:
                yield doc.problem(("containers", name, key), message, hint, at_key=True)
        if container.get("image") == ".":
            yield doc.problem(
                ("containers", name, "image"),
                "'.' (an image built locally) is not supported",
                "meshinstall deploys published images: write the image's registry name with a tag or digest",
            )
        yield from _resource_units(doc, name, _mapping(container.get("resources")))
    for name, resource in _mapping(data.get("resources")).items():
        kind = _mapping(resource).get("type")
        if isinstance(kind, str) and kind not in RESOURCE_TYPES:
            yield doc.problem(
                ("resources", name, "type"),
                f"resource type {kind!r} is not provided by meshinstall",
                f"use one of: {', '.join(RESOURCE_TYPES)}",
            )
    for name, port in _mapping(_mapping(data.get("service")).get("ports")).items():
        if _mapping(port).get("protocol") == "UDP":
            yield doc.problem(
                ("service", "ports", name, "protocol"),
                "UDP ports are not supported: the mesh's proxies carry TCP only",
                "use TCP, or serve UDP outside the mesh",
            )


def _resource_units(doc: Document, container: str, resources_: dict[str, Any]) -> Iterator[SpecProblem]:
    """Memory in exabytes is refused (no node has it); a request above its limit is refused as Kubernetes does."""
    requests, limits = _mapping(resources_.get("requests")), _mapping(resources_.get("limits"))
    for kind, values in (("requests", requests), ("limits", limits)):
        memory = values.get("memory")
        if isinstance(memory, str) and memory.endswith(("E", "Ei")):
            yield doc.problem(
                ("containers", container, "resources", kind, "memory"),
                f"{memory} is more memory than meshinstall can request",
                "write at most petabytes (P or Pi)",
            )
            return
    for resource, amount in (("cpu", millicores), ("memory", _bytes)):
        request, limit = requests.get(resource), limits.get(resource)
        if _above(amount, request, limit):
            yield doc.problem(
                ("containers", container, "resources", "requests", resource),
                f"the {resource} request {request} is above its limit {limit}",
                "Kubernetes refuses a request above the limit: lower the request or raise the limit",
            )


def _above(amount: Callable[[str], int], request: Any, limit: Any) -> bool:
    try:
        return isinstance(request, str) and isinstance(limit, str) and amount(request) > amount(limit)
    except ValueError:  # a quantity the schema refused (and reports)
        return False


def memory_quantity(value: str) -> str:
    """Score's memory quantity as Kubernetes writes it (Score spells kilo `K`, Kubernetes `k`)."""
    return value[:-1] + "k" if value.endswith("K") else value


def _bytes(value: str) -> int:
    return bytes_of(memory_quantity(value))


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
