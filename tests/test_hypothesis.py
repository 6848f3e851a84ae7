"""Property tests: whatever a spec file holds, load_spec returns a Spec or raises SpecInvalid, never crashes.

Known crashers (recursive YAML aliases, `extends` paths with NUL bytes or over-long names) are pinned by
strict-xfail tests in test_schema.py (test_hostile_input_is_a_spec_problem_not_a_crash); the properties
below skip those exact inputs (see `known_crash`) so that they keep looking for new bugs.
"""

from __future__ import annotations

import copy
import errno
import itertools
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from meshinstall.errors import SpecInvalid
from meshinstall.schemas import loader
from meshinstall.schemas.model import Spec
from meshinstall.schemas.validate import load_spec

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "environments" / "dev.yaml"

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

_counter = itertools.count()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hypothesis-specs")


def known_crash(err: BaseException, text: str) -> bool:
    """A crash already reported as a validator bug (and pinned by a strict xfail in test_schema.py)."""
    if isinstance(err, RecursionError):
        return "&" in text and "*" in text  # a recursive alias (`&a [*a]`)
    if isinstance(err, ValueError) and "null byte" in str(err):
        return "extends" in text
    if isinstance(err, OSError) and err.errno == errno.ENAMETOOLONG:
        return "extends" in text
    return False


def check(workdir: Path, content: str | bytes) -> None:
    """load_spec on `content` returns a Spec or raises SpecInvalid with well-located problems."""
    path = workdir / f"spec-{next(_counter)}.yaml"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
        text = content
    else:
        path.write_bytes(content)
        text = content.decode("utf-8", errors="replace")
    try:
        result = load_spec(path)
    except SpecInvalid as err:
        assert err.problems, "SpecInvalid without problems"
        for problem in err.problems:
            assert problem.line >= 1 and problem.column >= 1, problem
            assert problem.path.startswith("$"), problem
            assert problem.message.strip(), problem
            assert problem.file, problem
            if Path(problem.file).resolve() == path.resolve():  # located inside the file it names
                assert problem.line <= len(text.splitlines()) + 1, problem
    except (RecursionError, ValueError, OSError) as err:
        if known_crash(err, text):
            assume(False)
        raise
    else:
        assert isinstance(result, Spec)
    finally:
        path.unlink(missing_ok=True)


# --- (a) arbitrary text -----------------------------------------------------------------------------------

YAML_TOKENS = st.sampled_from(
    [
        "\n",
        "\n  ",
        "\n    ",
        " ",
        ": ",
        "- ",
        "? ",
        "[",
        "]",
        "{",
        "}",
        ", ",
        "#",
        "&a ",
        "*a",
        "<<: ",
        "!!str ",
        "!!int ",
        "!tag ",
        "|\n  ",
        ">\n  ",
        "'",
        '"',
        "---\n",
        "...\n",
        "~",
        "null",
        "yes",
        "no",
        "on",
        "off",
        "true",
        "1.34",
        "0x1F",
        "0o17",
        ".nan",
        "-.inf",
        "1e3",
        "8080",
        "\t",
        "%YAML 1.2\n",
        "\\0",
        "apiVersion",
        "meshinstall/v1",
        "kind",
        "MeshSpec",
        "metadata",
        "name",
        "cluster",
        "provider",
        "existing",
        "simulated",
        "mesh",
        "istio",
        "version",
        "1.30.3",
        "paas",
        "teams",
        "apps",
        "image",
        "port",
        "extends",
        "spec.yaml",
        "../",
        "route",
        "host",
        "quota",
        "cpu",
        "500m",
        "memory",
        "2Gi",
        "env",
        "secretEnv",
        "fromEnv",
    ]
)
YAMLISH_TEXT = st.lists(YAML_TOKENS, max_size=60).map("".join)


@SETTINGS
@given(text=st.one_of(st.text(), YAMLISH_TEXT))
def test_arbitrary_text_is_valid_or_spec_invalid(workdir: Path, text: str) -> None:
    check(workdir, text)


@SETTINGS
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_are_valid_or_spec_invalid(workdir: Path, data: bytes) -> None:
    check(workdir, data)


# --- (b) arbitrary YAML-able data -------------------------------------------------------------------------

SPEC_KEYS = [
    "apiVersion",
    "kind",
    "extends",
    "metadata",
    "name",
    "production",
    "cluster",
    "provider",
    "kubernetesVersion",
    "nodes",
    "nodeCapacity",
    "mesh",
    "version",
    "mtls",
    "ingressGateway",
    "enabled",
    "replicas",
    "sidecars",
    "monitoring",
    "prometheus",
    "grafana",
    "adminPassword",
    "fromEnv",
    "fromFile",
    "paas",
    "gateway",
    "hosts",
    "podSecurity",
    "teams",
    "namespaces",
    "quota",
    "cpu",
    "memory",
    "pods",
    "apps",
    "image",
    "port",
    "env",
    "secretEnv",
    "route",
    "host",
    "path",
    "allowFrom",
    "traffic",
    "canary",
    "weight",
    "<<",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        ["meshinstall/v1", "MeshSpec", "istio", "1.30.3", "1.34", "existing", "simulated", "yes", "no", "-", ""]
    ),
)
KEYS = st.one_of(st.sampled_from(SPEC_KEYS), st.text(max_size=12))
DATA = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=6)),
    max_leaves=40,
)


def dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@SETTINGS
@given(data=DATA)
def test_arbitrary_data_is_valid_or_spec_invalid(workdir: Path, data: Any) -> None:
    check(workdir, dump(data))


@SETTINGS
@given(top=st.dictionaries(st.sampled_from(SPEC_KEYS[:20]), DATA, max_size=8))
def test_arbitrary_top_level_mappings_are_valid_or_spec_invalid(workdir: Path, top: dict[str, Any]) -> None:
    check(workdir, dump({"apiVersion": "meshinstall/v1", "kind": "MeshSpec", **top}))


# --- (c) mutations of a real environment ------------------------------------------------------------------

DEV_DATA = loader.load(DEV).data  # merged with base.yaml; `extends` is already gone
assert isinstance(DEV_DATA, dict) and "extends" not in DEV_DATA


def containers(node: Any, path: tuple = ()) -> list[tuple]:
    """Paths of every mapping and list in `node` (the root included)."""
    found = []
    if isinstance(node, (dict, list)):
        found.append(path)
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            found += containers(value, path + (key,))
    return found


def at(node: Any, path: tuple) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def mutated_dev(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(DEV_DATA)
    for _ in range(draw(st.integers(1, 3))):
        parent = at(data, draw(st.sampled_from(containers(data))))
        keys = list(parent) if isinstance(parent, dict) else list(range(len(parent)))
        operation = draw(st.sampled_from(["delete", "replace", "add"] if keys else ["add"]))
        if operation == "add":
            value = draw(DATA)
            if isinstance(parent, dict):
                parent[draw(KEYS)] = value
            else:
                parent.insert(draw(st.integers(0, len(parent))), value)
            continue
        key = draw(st.sampled_from(keys))
        if operation == "delete":
            del parent[key]
        else:
            parent[key] = draw(DATA)
    return data


@SETTINGS
@given(data=mutated_dev())
def test_mutated_environment_is_valid_or_spec_invalid(workdir: Path, data: dict[str, Any]) -> None:
    check(workdir, dump(data))


def test_unmutated_environment_round_trips(workdir: Path) -> None:
    """The baseline of the mutation test: dev's merged data, dumped again, is a valid spec."""
    path = workdir / "dev-roundtrip.yaml"
    path.write_text(dump(DEV_DATA), encoding="utf-8")
    spec = load_spec(path)
    assert spec.name == "dev"
    assert spec.content_hash == load_spec(DEV).content_hash


def test_nan_and_inf_scalars_do_not_crash(workdir: Path) -> None:
    data = copy.deepcopy(DEV_DATA)
    data["mesh"]["tracing"] = {"samplingPercent": math.inf}
    data["cluster"]["nodes"] = -math.inf
    check(workdir, dump(data))
