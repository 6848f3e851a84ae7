"""The spec schema, loader and semantic rules: environments, fixtures, defaults, extends, CLI output.

Invalid fixtures (tests/fixtures/invalid/*.yaml) declare the problems they must produce in leading comments:

    # expect: 14:17 $.paas.teams[0].apps[0].port              (in the fixture itself)
    # expect: bases/other.yaml 5:3 $.x                        (in another file, relative to the fixture)
    # xfail: <reason>        known validator bug: the problem set differs (strict xfail, flips when fixed)
    # xfail-hint: <reason>   known validator bug: some problem lacks a message or hint

Files under tests/fixtures/invalid/bases/ are helpers that fixtures extend, not fixtures themselves.
"""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from meshinstall.cli.main import main
from meshinstall.errors import SpecInvalid, SpecProblem
from meshinstall.schemas import environment_files, loader
from meshinstall.schemas.validate import load_spec, schema, with_defaults

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))
VALID = sorted((FIXTURES / "valid").glob("*.yaml"))
SCHEMA_FILE = ROOT / "schemas" / "mesh-spec.schema.json"

EXPECT = re.compile(r"^#\s*expect:\s*(?:(?P<file>\S+)\s+)?(?P<line>\d+):(?P<col>\d+)\s+(?P<path>\$\S*)\s*$")
MARK = re.compile(r"^#\s*(?P<kind>xfail|xfail-hint):\s*(?P<reason>.+)$")

Located = tuple[Path, int, int, str]


def header(path: Path) -> list[str]:
    """The leading comment lines of a fixture (read as bytes: one fixture is deliberately not UTF-8)."""
    lines = []
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines


def expected(path: Path) -> collections.Counter[Located]:
    """The declared problems of a fixture, as (resolved file, line, column, JSON path)."""
    found: collections.Counter[Located] = collections.Counter()
    for line in header(path):
        match = EXPECT.match(line)
        if match:
            file = (path.parent / match["file"]).resolve() if match["file"] else path.resolve()
            found[(file, int(match["line"]), int(match["col"]), match["path"])] += 1
        elif line.lstrip("# ").startswith("expect:"):
            raise ValueError(f"{path.name}: malformed expectation {line!r}")
    return found


def marks(path: Path, kind: str) -> list[pytest.MarkDecorator]:
    for line in header(path):
        match = MARK.match(line)
        if match and match["kind"] == kind:
            return [pytest.mark.xfail(strict=True, reason=match["reason"])]
    return []


def problems_of(path: Path) -> list[SpecProblem]:
    """The problems load_spec reports for `path` ([] when it validates)."""
    try:
        load_spec(path)
    except SpecInvalid as err:
        return err.problems
    return []


def located(problems: list[SpecProblem]) -> collections.Counter[Located]:
    return collections.Counter((Path(p.file).resolve(), p.line, p.column, p.path) for p in problems)


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = """\
apiVersion: meshinstall/v1
kind: MeshSpec
metadata:
  name: t
cluster:
  provider: existing
mesh:
  provider: istio
  version: 1.30.3
"""


# --- fixtures ---------------------------------------------------------------------------------------------


def test_fixture_inventory() -> None:
    assert len(INVALID) >= 30
    assert 4 <= len(VALID) <= 8
    for path in INVALID:
        assert expected(path), f"{path.name} declares no `# expect:` line"


@pytest.mark.parametrize("fixture", [pytest.param(p, id=p.stem, marks=marks(p, "xfail")) for p in INVALID])
def test_invalid_fixture_reports_exactly_its_problems(fixture: Path) -> None:
    with pytest.raises(SpecInvalid) as caught:
        load_spec(fixture)
    got = located(caught.value.problems)
    want = expected(fixture)
    shown = "\n".join(str(p) for p in caught.value.problems)
    assert got == want, f"reported:\n{shown}"


@pytest.mark.parametrize("fixture", [pytest.param(p, id=p.stem, marks=marks(p, "xfail-hint")) for p in INVALID])
def test_invalid_fixture_problems_explain_themselves(fixture: Path) -> None:
    for problem in problems_of(fixture):
        assert problem.message.strip(), problem
        assert problem.hint.strip(), f"no hint: {problem}"
        assert problem.line >= 1 and problem.column >= 1 and problem.path.startswith("$")


@pytest.mark.parametrize("fixture", [pytest.param(p, id=p.stem) for p in VALID])
def test_valid_fixture_validates(fixture: Path) -> None:
    assert problems_of(fixture) == []


def test_valid_fixtures_validate_through_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *map(str, VALID)]) == 0
    out = capsys.readouterr().out
    for name in ("minimal", "prod-eu", "teams", "anchors", "extended"):
        assert name in out


# --- environments -----------------------------------------------------------------------------------------


def test_every_environment_validates_through_the_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    for env in ("dev", "prod", "staging"):
        assert env in out


@pytest.mark.parametrize("env", [pytest.param(p, id=p.stem) for p in environment_files(ROOT)])
def test_every_environment_validates(env: Path) -> None:
    spec = load_spec(env)
    assert spec.name == env.stem
    assert spec.source == env.resolve()
    assert len(spec.content_hash) == 64


def test_environment_files_skip_bases() -> None:
    names = {p.stem for p in environment_files(ROOT)}
    assert {"dev", "prod", "staging"} <= names
    assert "base" not in names


# --- defaults ---------------------------------------------------------------------------------------------


def test_minimal_spec_gets_defaults() -> None:
    spec = load_spec(FIXTURES / "valid" / "minimal.yaml")
    assert spec.metadata.production is False
    assert spec.cluster.kubernetes_version == "1.34"
    assert spec.cluster.nodes == 3
    assert spec.mesh.profile == "default"
    assert spec.mesh.mtls == "strict"
    assert spec.mesh.revision is None
    assert spec.mesh.outbound_traffic_policy == "ALLOW_ANY"
    assert spec.mesh.ingress_gateway.enabled is True
    assert spec.mesh.ingress_gateway.replicas == 2
    assert spec.mesh.ingress_gateway.service_type == "LoadBalancer"
    assert spec.mesh.egress_gateway.enabled is False
    assert spec.mesh.resources.istiod.cpu == "500m"
    assert spec.sidecars.proxy.cpu == "100m" and spec.sidecars.proxy.memory == "128Mi"
    assert spec.monitoring.prometheus.enabled is True and spec.monitoring.prometheus.retention == "15d"
    assert spec.monitoring.kiali.enabled is True
    assert spec.monitoring.grafana.admin_password is None
    assert spec.paas.pod_security == "baseline"
    assert spec.paas.gateway is None
    assert spec.paas.teams == ()
    assert spec.state.backend == "file://.meshinstall/state"
    assert spec.charts.mirror is None


def test_team_and_app_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        MINIMAL
        + """\
paas:
  teams:
    - name: alpha
      apps:
        - name: api
          image: registry.example.com/alpha/api:1.0.0
          port: 8080
          traffic:
            retries: {attempts: 2}
            circuitBreaker: {consecutiveErrors: 3}
            canary: {image: registry.example.com/alpha/api:1.1.0, weight: 10}
""",
    )
    team = load_spec(path).paas.teams[0]
    assert team.namespaces == ("alpha",)
    assert team.app_namespace == "alpha"
    assert team.groups == ()
    assert (team.quota.cpu, team.quota.memory, team.quota.pods) == ("4", "8Gi", 50)
    app = team.apps[0]
    assert app.protocol == "http" and app.replicas == 1
    assert (app.resources.cpu, app.resources.memory) == ("100m", "128Mi")
    assert app.env == {} and app.secret_env == {} and app.allow_from == ()
    assert app.automount_service_account_token is False
    assert app.route is None
    assert app.traffic.retries.retry_on == "5xx,reset,connect-failure,retriable-4xx"
    assert app.traffic.circuit_breaker.ejection_time == "30s"
    assert app.traffic.circuit_breaker.max_ejection_percent == 50
    assert app.traffic.canary.replicas == 1


def test_defaults_satisfy_the_schema() -> None:
    data = loader.load(FIXTURES / "valid" / "minimal.yaml").data
    assert list(Draft202012Validator(schema()).iter_errors(with_defaults(data))) == []


def test_optional_features_reach_the_model() -> None:
    spec = load_spec(FIXTURES / "valid" / "production-tls-revision.yaml")
    assert spec.mesh.revision == "1-30-3"
    assert spec.mesh.egress_gateway.enabled is True and spec.mesh.egress_gateway.replicas == 2
    assert spec.paas.gateway.tls.secret_name == "apps-eu-tls"
    assert spec.monitoring.grafana.admin_password.from_file == "secrets/grafana-admin"
    invoices = spec.paas.teams[0].apps[0]
    assert invoices.secret_env["DB_PASSWORD"].from_file == "secrets/invoices-db"
    assert invoices.secret_env["STRIPE_TOKEN"].from_env == "INVOICES_STRIPE_TOKEN"
    assert spec.resolve_path("./kubeconfig") == (FIXTURES / "valid" / "kubeconfig").resolve()

    teams = {t.name: t for t in load_spec(FIXTURES / "valid" / "teams-namespaces-allowfrom.yaml").paas.teams}
    assert teams["data"].namespaces == ("data", "data-batch", "data-sandbox")
    assert teams["web"].namespaces == ("web",)
    assert teams["data"].apps[0].allow_from == ("query", "web/frontend")


def test_anchors_and_merge_keys() -> None:
    apps = {a.name: a for a in load_spec(FIXTURES / "valid" / "anchors-and-merge-keys.yaml").paas.teams[0].apps}
    assert apps["pricing"].port == 8080  # merged from the cart app
    assert apps["pricing"].image.endswith("/pricing:1.0.0")  # explicit keys win over merged ones
    assert (apps["pricing"].resources.cpu, apps["pricing"].resources.memory) == ("250m", "512Mi")
    assert apps["search"].replicas == 2
    assert apps["search"].traffic.timeout == "10s"
    assert apps["search"].traffic.retries.attempts == 2  # nested merge key
    assert apps["cart"].route is None and apps["search"].route.host == "search.apps.example.com"


# --- extends ----------------------------------------------------------------------------------------------


def test_extends_merges_maps_deeply_and_replaces_lists() -> None:
    spec = load_spec(FIXTURES / "valid" / "extends-environment-base.yaml")
    base = load_spec(ROOT / "environments" / "dev.yaml")  # another child of the same base, for base values
    assert spec.mesh.mtls == "permissive"  # scalar overridden
    assert spec.mesh.ingress_gateway.replicas == 4  # map merged: one key overridden ...
    assert spec.mesh.ingress_gateway.service_type == "LoadBalancer"  # ... the others kept from the base
    assert spec.mesh.version == base.mesh.version == "1.30.3"
    assert spec.monitoring.prometheus.retention == "7d"
    assert spec.monitoring.prometheus.storage == "50Gi"  # from base.yaml (dev overrides it, we do not)
    assert spec.monitoring.grafana.admin_password.from_env == "GRAFANA_ADMIN_PASSWORD"
    assert spec.sidecars.proxy.memory_limit == "512Mi"
    assert [t.name for t in spec.paas.teams] == ["solo"]  # list replaced, not appended
    assert spec.paas.teams[0].namespaces == ("solo", "solo-staging")
    assert spec.paas.gateway.hosts == ("team.example.com",)
    assert spec.paas.pod_security == "baseline"


def test_dev_environment_merges_its_base() -> None:
    spec = load_spec(ROOT / "environments" / "dev.yaml")
    assert spec.mesh.ingress_gateway.replicas == 1 and spec.mesh.ingress_gateway.service_type == "LoadBalancer"
    assert spec.mesh.ingress_gateway.enabled is True  # kept from base.yaml
    assert spec.mesh.resources.istiod.cpu == "200m"
    assert [t.name for t in spec.paas.teams] == ["payments", "storefront"]
    assert spec.paas.teams[0].namespaces == ("payments",)


def test_merge_function() -> None:
    base = {"a": {"b": 1, "c": [1, 2], "d": {"e": 1}}, "f": "x"}
    override = {"a": {"c": [3], "d": {"g": 2}}, "h": None}
    assert loader.merge(base, override) == {"a": {"b": 1, "c": [3], "d": {"e": 1, "g": 2}}, "f": "x", "h": None}
    assert base == {"a": {"b": 1, "c": [1, 2], "d": {"e": 1}}, "f": "x"}  # inputs untouched


def test_extends_positions_point_at_the_file_holding_the_value(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL + "monitoring:\n  alerts: {latencyP99Ms: 0}\n", "base.yaml")
    child = write(tmp_path, "extends: base.yaml\nmetadata:\n  name: child\n", "child.yaml")
    [problem] = problems_of(child)
    assert Path(problem.file).resolve() == (tmp_path / "base.yaml").resolve()
    assert (problem.line, problem.column, problem.path) == (11, 26, "$.monitoring.alerts.latencyP99Ms")


# --- CLI output -------------------------------------------------------------------------------------------


def test_validate_json_reports_every_problem(capsys: pytest.CaptureFixture[str]) -> None:
    bad = [FIXTURES / "invalid" / "port-out-of-range.yaml", FIXTURES / "invalid" / "wrong-enum.yaml"]
    good = FIXTURES / "valid" / "minimal.yaml"
    assert main(["validate", "--json", str(good), *map(str, bad)]) == 3
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"valid", "environments", "problems"}
    assert result["valid"] is False
    assert result["environments"] == ["minimal"]
    assert len(result["problems"]) == 4
    for problem in result["problems"]:
        assert set(problem) == {"file", "line", "column", "path", "message", "hint"}
        assert isinstance(problem["line"], int) and isinstance(problem["column"], int)
        assert problem["path"].startswith("$") and problem["message"] and problem["hint"]
    got = collections.Counter(
        (Path(p["file"]).resolve(), p["line"], p["column"], p["path"]) for p in result["problems"]
    )
    assert got == expected(bad[0]) + expected(bad[1])


def test_validate_json_on_valid_specs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--json", str(FIXTURES / "valid" / "minimal.yaml")]) == 0
    assert json.loads(capsys.readouterr().out) == {"valid": True, "environments": ["minimal"], "problems": []}


def test_validate_prints_one_line_per_problem(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    fixture = FIXTURES / "invalid" / "port-out-of-range.yaml"
    assert main(["validate", str(fixture.relative_to(ROOT))]) == 3
    captured = capsys.readouterr()  # problems may go to stdout or stderr: accept either
    lines = [line for line in (captured.out + captured.err).splitlines() if line.strip()]
    shape = re.compile(
        r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<path>\$\S*): (?P<message>.+) \((?P<hint>.+)\)$"
    )
    matches = [m for m in map(shape.match, lines) if m]
    assert len(matches) == 2, lines
    assert all(m["file"] == "tests/fixtures/invalid/port-out-of-range.yaml" for m in matches)
    got = collections.Counter((ROOT / m["file"], int(m["line"]), int(m["col"]), m["path"]) for m in matches)
    assert got == expected(fixture)
    assert "2 problems found" in lines


def test_literally_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_bytes(b"")
    [problem] = problems_of(path)
    assert (problem.line, problem.column, problem.path) == (1, 1, "$")
    assert "empty" in problem.message


def test_spec_invalid_sorts_problems() -> None:
    problems = problems_of(FIXTURES / "invalid" / "bad-durations.yaml")
    assert problems == sorted(problems, key=lambda p: (p.file, p.line, p.column, p.path))


# --- the schema itself ------------------------------------------------------------------------------------


def test_schema_is_valid_json_schema_2020_12() -> None:
    shipped = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert shipped["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(shipped)
    assert shipped == schema()


def _properties(node: Any, where: str = "#") -> list[tuple[str, dict[str, Any]]]:
    """Every (location, subschema) declared under a `properties` keyword, anywhere in the schema."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                found += [(f"{where}/properties/{name}", sub) for name, sub in value.items()]
            found += _properties(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _properties(value, f"{where}/{i}")
    return found


def test_every_schema_property_has_a_description() -> None:
    props = _properties(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    assert len(props) > 100
    assert any(where.startswith("#/$defs/") for where, _ in props)
    missing = [where for where, sub in props if not str(sub.get("description", "")).strip()]
    assert missing == []


# --- inputs that once crashed or misled the validator -----------------------------------------------------

CRASHERS = {
    "recursive-alias": "apiVersion: meshinstall/v1\nmetadata: &a {name: x, labels: [*a]}\n",
    "deeply-nested": "apiVersion: meshinstall/v1\nmetadata: " + "[" * 600 + "]" * 600 + "\n",
    "extends-nul-byte": 'extends: "base\\0.yaml"\napiVersion: meshinstall/v1\n',
    "extends-long-name": "extends: " + "a" * 300 + ".yaml\napiVersion: meshinstall/v1\n",
}


@pytest.mark.parametrize("case", sorted(CRASHERS))
def test_hostile_input_is_a_spec_problem_not_a_crash(case: str, tmp_path: Path) -> None:
    path = write(tmp_path, CRASHERS[case])
    with pytest.raises(SpecInvalid) as caught:
        load_spec(path)
    assert all(p.line >= 1 and p.column >= 1 and p.path.startswith("$") for p in caught.value.problems)


def test_integer_fields_are_integers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        MINIMAL
        + """\
paas:
  teams:
    - name: alpha
      apps:
        - name: api
          image: registry.example.com/alpha/api:1.0.0
          port: 8080.0
          replicas: 1e0
""",
    )
    try:
        app = load_spec(path).paas.teams[0].apps[0]
    except SpecInvalid as err:
        assert {p.path for p in err.problems} == {"$.paas.teams[0].apps[0].port", "$.paas.teams[0].apps[0].replicas"}
    else:
        assert type(app.port) is int and type(app.replicas) is int


def test_float_version_hint_keeps_what_was_written() -> None:
    [problem] = problems_of(FIXTURES / "invalid" / "kubernetes-version-float-trailing-zero.yaml")
    assert '"1.30"' in problem.hint


def test_secret_reference_with_two_sources_message() -> None:
    problems = problems_of(FIXTURES / "invalid" / "secret-ref-two-sources.yaml")
    assert problems
    for problem in problems:
        assert "dict" not in problem.message and "fromEnv" in problem.message + problem.hint
        assert "plaintext" not in problem.message


def test_type_error_messages_read_well() -> None:
    messages = [
        p.message
        for f in ("wrong-types.yaml", "null-sections.yaml", "bad-durations.yaml")
        for p in problems_of(FIXTURES / "invalid" / f)
    ]
    assert messages
    for message in messages:
        assert " a integer" not in message and "null is a null" not in message and "list is a list" not in message


@pytest.mark.parametrize("env", [p for p in sorted((ROOT / "environments").glob("*.yaml"))], ids=lambda p: p.stem)
def test_no_spec_in_the_repository_holds_a_path_of_one_machine(env: Path) -> None:
    data = loader.load(env).data or {}
    kubeconfig = (data.get("cluster") or {}).get("kubeconfig")
    assert kubeconfig is None or not (kubeconfig.startswith(("/", "~"))), (
        f"{env.name}: cluster.kubeconfig {kubeconfig} (relative to the spec, or $KUBECONFIG)"
    )
    backend = (data.get("state") or {}).get("backend", "")
    assert not backend.startswith("file:///"), f"{env.name}: state.backend {backend}"


def test_a_spec_accepted_once_is_not_validated_again_but_an_edit_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The schema's verdict on a document is remembered in the user's cache (a command then starts without
    importing jsonschema); an edit that breaks the spec is still reported at its line, as the first time."""
    import subprocess
    import sys

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = tmp_path / "dev.yaml"
    spec.write_text(VALID[0].read_text())
    load = f"import sys; from meshinstall.schemas.validate import load_spec; load_spec(__import__('pathlib').Path({str(spec)!r})); print('jsonschema' in sys.modules)"
    runs = [
        subprocess.run([sys.executable, "-c", load], capture_output=True, text=True, check=True).stdout.strip()
        for _ in range(2)
    ]
    assert runs == ["True", "False"], runs  # validated the first time only

    text = spec.read_text()
    # a number, then an unknown key
    spec.write_text(text.replace("metadata:\n  name:", "metadata:\n  name: 7\n  nom:", 1))
    with pytest.raises(SpecInvalid) as raised:
        load_spec(spec)
    assert {(p.path, p.line) for p in raised.value.problems} == {("$.metadata.name", 5), ("$.metadata.nom", 6)}
    spec.write_text(text)
    load_spec(spec)
