"""Team workload files (Score, score.dev/v1b1): reading, validation against the official schema and meshinstall's
extension, the mapping onto apps, and the boundary a team's workloads stay within (docs/score.md).

Each test builds an environment spec and its teams' folders in tmp_path and runs from there, so problems read as the
user sees them: `payments/invoices.yaml:12:7: $.resources.public.params.host: ... (hint)`."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from meshinstall.errors import SpecInvalid
from meshinstall.schemas import score_schema
from meshinstall.schemas.model import (
    App,
    Canary,
    Container,
    Probe,
    Requests,
    Retries,
    Route,
    SecretRef,
    ServicePort,
    Spec,
    TrafficPolicy,
)
from meshinstall.schemas.validate import load_spec

ROOT = Path(__file__).resolve().parent.parent
VENDORED = ROOT / "schemas" / "score" / "score-v1b1.json"
# The shared data folder (the Score spec's schema and its full sample), as the CI machine provides it; skipped without.
SHARED = os.environ.get("MESHINSTALL_SHARED")

ENV = """\
apiVersion: meshinstall/v1
kind: MeshSpec
metadata:
  name: prod
cluster:
  provider: existing
mesh:
  provider: istio
  version: 1.30.3
paas:
  podSecurity: {pod_security}
  gateway:
    hosts: ["*.apps.example.com"]
  teams:
"""

PLAIN = """\
apiVersion: score.dev/v1b1
metadata:
  name: {name}
containers:
  main:
    image: registry.example.com/{name}:1.0
"""

SERVED = (
    PLAIN
    + """\
service:
  ports:
    web: {{port: 8080}}
"""
)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path as the working folder, with its own cache (validated documents are remembered there)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def env(root: Path, teams: str, files: dict[str, str], pod_security: str = "baseline") -> Path:
    """Write the environment spec (`teams` is the YAML of paas.teams' items) and the Score files."""
    spec = root / "prod.yaml"
    root.mkdir(exist_ok=True)
    spec.write_text(ENV.format(pod_security=pod_security) + textwrap.indent(textwrap.dedent(teams), "    "))
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    return spec


def problems(spec: Path) -> list[str]:
    """What `meshinstall validate` prints for the spec, one line a problem."""
    with pytest.raises(SpecInvalid) as caught:
        load_spec(spec)
    return [str(p) for p in caught.value.problems]


def app(spec: Spec, team: str, name: str) -> App:
    [found] = [a for t in spec.paas.teams if t.name == team for a in t.apps if a.name == name]
    return found


PAYMENTS = """\
- name: payments
  workloads: payments
"""


# --- mapping ----------------------------------------------------------------------------------------------


def test_a_plain_score_file_maps_with_the_documented_defaults(here: Path) -> None:
    spec = load_spec(env(here, PAYMENTS, {"payments/hello.yaml": PLAIN.format(name="hello")}))
    image = "registry.example.com/hello:1.0"
    assert app(spec, "payments", "hello") == App(
        name="hello",
        image=image,
        port=0,
        protocol="http",
        replicas=1,
        resources=Requests("100m", "128Mi"),
        containers=(Container(name="main", image=image, resources=Requests("100m", "128Mi")),),
        source="payments/hello.yaml",
    )
    assert spec.paas.teams[0].owns_workloads


def test_the_extension_ports_probes_and_resources_map(here: Path) -> None:
    invoices = """\
    apiVersion: score.dev/v1b1
    metadata:
      name: invoices
      annotations: {prometheus.io/scrape: "true"}
      meshinstall:
        replicas: 2
        protocol: grpc
        automountServiceAccountToken: true
        capabilities: [NET_BIND_SERVICE]
        traffic:
          timeout: 5s
          retries: {attempts: 3}
          canary: {image: registry.example.com/invoices:2.0, weight: 20}
        environments:
          prod: {replicas: 3, traffic: {timeout: 2s}}
          dev: {replicas: 9}
    containers:
      main:
        image: registry.example.com/invoices:1.0
        command: [/bin/invoices]
        args: [--serve]
        resources:
          requests: {cpu: 250m}
          limits: {cpu: "1", memory: 256Mi}
        livenessProbe: {httpGet: {path: /livez, port: 8080, httpHeaders: [{name: X-Probe, value: "1"}]}}
        readinessProbe: {exec: {command: [/bin/ready]}}
      sidecar:
        image: registry.example.com/helper:1.0
    service:
      ports:
        grpc: {port: 9090}
        admin: {port: 80, targetPort: 8081}
    """
    spec = load_spec(env(here, PAYMENTS, {"payments/invoices.yaml": invoices}))
    found = app(spec, "payments", "invoices")
    assert (found.replicas, found.protocol, found.automount_service_account_token) == (3, "grpc", True)
    assert found.traffic == TrafficPolicy(
        timeout="2s", retries=Retries(attempts=3), canary=Canary("registry.example.com/invoices:2.0", 20, 1)
    )
    assert found.image == "registry.example.com/invoices:1.0"
    assert found.port == 9090
    assert found.ports == (ServicePort("grpc", 9090, 9090), ServicePort("admin", 80, 8081))
    assert found.annotations == {"prometheus.io/scrape": "true"}
    assert found.capabilities == ("NET_BIND_SERVICE",) and not found.run_as_root
    main, sidecar = found.containers
    assert (main.command, main.args) == (("/bin/invoices",), ("--serve",))
    assert main.resources == Requests("250m", "256Mi")  # memory: the limit stands in for the missing request
    assert (main.cpu_limit, main.memory_limit) == ("1", "256Mi")
    assert main.liveness == Probe(path="/livez", port=8080, headers=(("X-Probe", "1"),))
    assert main.readiness == Probe(command=("/bin/ready",))
    assert sidecar.resources == Requests("100m", "128Mi") and sidecar.cpu_limit is None
    assert found.resources == Requests("350m", "384Mi")  # the containers' requests added up


def test_placeholders_resolve_to_a_callee_of_another_team_which_admits_the_caller(here: Path) -> None:
    teams = """\
    - name: payments
      workloads: payments
    - name: ledger
      namespaces: [ledger-apps]
      workloads: ledger
    - name: shop
      apps:
        - {name: web, image: registry.example.com/web:1.0, port: 8080}
    """
    invoices = """\
    apiVersion: score.dev/v1b1
    metadata:
      name: invoices
    containers:
      main:
        image: registry.example.com/invoices:1.0
        variables:
          LEDGER_URL: http://${resources.ledger.hostname}:${resources.ledger.port}/${metadata.name}
          SHOP: ${resources.shop.hostname}:${resources.shop.port}
          TEMPLATE: $${HOME} stays
    resources:
      ledger: {type: service-port, params: {workload: ledger/books, port: admin}}
      shop: {type: service-port, params: {workload: shop/web}}
    """
    books = SERVED.format(name="books") + "    admin: {port: 9000, targetPort: 9001}\n"
    spec = load_spec(env(here, teams, {"payments/invoices.yaml": invoices, "ledger/books.yaml": books}))
    assert app(spec, "payments", "invoices").containers[0].env == {
        "LEDGER_URL": "http://books.ledger-apps.svc.cluster.local:9000/invoices",
        "SHOP": "web.shop.svc.cluster.local:8080",
        "TEMPLATE": "${HOME} stays",
    }
    assert app(spec, "ledger", "books").allow_from == ("payments/invoices",)
    assert app(spec, "shop", "web").allow_from == ("payments/invoices",)  # an inline app admits its caller too


def test_a_variable_from_an_environment_resource_is_a_secret(here: Path) -> None:
    invoices = """\
    apiVersion: score.dev/v1b1
    metadata:
      name: invoices
    containers:
      main:
        image: registry.example.com/invoices:1.0
        variables:
          DB_PASSWORD: ${resources.env.INVOICES_DB_PASSWORD}
          MODE: live
    resources:
      env: {type: environment}
    """
    spec = load_spec(env(here, PAYMENTS, {"payments/invoices.yaml": invoices}))
    found = app(spec, "payments", "invoices")
    assert found.secret_env == {"DB_PASSWORD": SecretRef(from_env="INVOICES_DB_PASSWORD")}
    assert found.containers[0].secret_env == ("DB_PASSWORD",)
    assert found.containers[0].env == {"MODE": "live"}  # the secret's value is never in the model


def test_a_route_maps_with_its_defaults(here: Path) -> None:
    routed = SERVED.format(name="shop") + "resources:\n  public: {type: route, params: {host: shop.apps.example.com}}\n"
    spec = load_spec(env(here, PAYMENTS, {"payments/shop.yml": routed}))
    assert app(spec, "payments", "shop").route == Route("shop.apps.example.com", "/", None)


def test_a_changed_score_file_changes_the_content_hash(here: Path) -> None:
    spec = env(here, PAYMENTS, {"payments/hello.yaml": PLAIN.format(name="hello")})
    first = load_spec(spec).content_hash
    (here / "payments" / "hello.yaml").write_text(PLAIN.format(name="hello").replace("1.0", "1.1"))
    assert load_spec(spec).content_hash != first


def test_subfolders_and_other_files_are_ignored(here: Path) -> None:
    files = {
        "payments/a.yaml": PLAIN.format(name="aa"),
        "payments/b.yml": PLAIN.format(name="bb"),
        "payments/notes.txt": "not a workload",
        "payments/old/c.yaml": "broken: [",
    }
    spec = load_spec(env(here, PAYMENTS, files))
    assert [a.name for a in spec.paas.teams[0].apps] == ["aa", "bb"]


def test_the_folder_is_relative_to_the_file_that_declares_the_team(here: Path) -> None:
    base = env(here / "bases", PAYMENTS, {"payments/hello.yaml": PLAIN.format(name="hello")})
    child = here / "prod.yaml"
    child.write_text("extends: bases/prod.yaml\nmetadata:\n  name: prod\n")
    assert base.is_file()
    spec = load_spec(child)
    assert app(spec, "payments", "hello").source == "bases/payments/hello.yaml"


# --- the official schema ----------------------------------------------------------------------------------


def test_the_vendored_schema_is_draft_2020_12_with_the_official_id() -> None:
    schema = json.loads(VENDORED.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://score.dev/schemas/score"
    Draft202012Validator.check_schema(schema)
    Draft202012Validator.check_schema(score_schema.extension_schema())


@pytest.mark.skipif(not SHARED, reason="MESHINSTALL_SHARED (the shared data folder) is not set")
def test_the_vendored_schema_is_the_shared_copy() -> None:
    assert VENDORED.read_bytes() == (Path(SHARED or "") / "score" / "score-v1b1.json").read_bytes()


def test_a_file_with_meshinstall_extensions_is_still_an_official_score_file(here: Path) -> None:
    text = textwrap.dedent("""\
    apiVersion: score.dev/v1b1
    metadata:
      name: invoices
      meshinstall:
        replicas: 2
        runAsRoot: false
        traffic: {timeout: 5s, canary: {image: registry.example.com/invoices:2.0, weight: 10}}
        environments: {prod: {replicas: 3}}
    containers:
      main:
        image: registry.example.com/invoices:1.0
        variables: {LEDGER: "${resources.ledger.hostname}", DB_PASSWORD: "${resources.env.DB}"}
    service:
      ports: {web: {port: 8080}}
    resources:
      ledger: {type: service-port, params: {workload: ledger, port: web}}
      public: {type: route, params: {host: invoices.apps.example.com, path: /, port: 8080}}
      env: {type: environment}
    """)
    Draft202012Validator(json.loads(VENDORED.read_text())).validate(yaml.safe_load(text))
    ledger = SERVED.format(name="ledger")
    load_spec(env(here, PAYMENTS, {"payments/invoices.yaml": text, "payments/ledger.yaml": ledger}))


@pytest.mark.skipif(not SHARED, reason="MESHINSTALL_SHARED (the shared data folder) is not set")
def test_the_full_score_sample_is_refused_only_for_what_meshinstall_does_not_provide(here: Path) -> None:
    sample = (Path(SHARED or "") / "score" / "score-full.yaml").read_text()
    teams = "- name: payments\n  workloads: payments\n  quota: {cpu: '40', memory: 80Gi}\n"
    found = problems(env(here, teams, {"payments/full.yaml": sample}))
    where = "payments/full.yaml"
    assert found == [
        f"{where}:22:14: $.containers.container-one1.resources.requests.cpu: the cpu request 1000m is above its limit 0.24 (Kubernetes refuses a request above the limit: lower the request or raise the limit)",
        f"{where}:23:17: $.containers.container-one1.resources.requests.memory: the memory request 10Gi is above its limit 128M (Kubernetes refuses a request above the limit: lower the request or raise the limit)",
        f"{where}:29:5: $.containers.container-one1.files: files are not supported: meshinstall mounts no files into containers (bake the file into the image, or pass its value as a variable; a secret through an environment resource)",
        f"{where}:39:5: $.containers.container-one1.volumes: volumes are not supported: meshinstall provisions no volumes (keep state in a service the workload calls, through a service-port resource)",
        f"{where}:65:12: $.containers.container-two2.image: '.' (an image built locally) is not supported (meshinstall deploys published images: write the image's registry name with a tag or digest)",
        f"{where}:73:11: $.resources.resource-one1.type: resource type 'Resource-One' is not provided by meshinstall (use one of: service-port, route, environment)",
        f"{where}:79:11: $.resources.resource-two2.type: resource type 'Resource-Two' is not provided by meshinstall (use one of: service-port, route, environment)",
        f"{where}:81:11: $.resources.resource-three.type: resource type 'Type-Three' is not provided by meshinstall (use one of: service-port, route, environment)",
    ]


def test_an_official_schema_error_is_located_in_the_score_file(here: Path) -> None:
    bad = SERVED.format(name="hello").replace("8080", "70000") + "  extra: 1\n"
    assert problems(env(here, PAYMENTS, {"payments/hello.yaml": bad})) == [
        "payments/hello.yaml:9:17: $.service.ports.web.port: 70000 is greater than the maximum of 65535 (allowed: >= 1 and <= 65535)",
        "payments/hello.yaml:10:3: $.service.extra: unknown property 'extra' (allowed here: ports)",
    ]


def test_an_accepted_file_is_not_validated_again_but_an_edited_one_is(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = env(here, PAYMENTS, {"payments/hello.yaml": PLAIN.format(name="hello")})
    load_spec(spec)
    real = score_schema.schema_problems
    validated: list[str] = []
    monkeypatch.setattr(score_schema, "schema_problems", lambda doc: validated.append(doc.files[0]) or real(doc))
    load_spec(spec)
    assert validated == []
    (here / "payments" / "hello.yaml").write_text(PLAIN.format(name="hello").replace("1.0", "latest") + "x: 1\n")
    assert problems(spec) == [
        "payments/hello.yaml:7:1: $.x: unknown property 'x' (allowed here: apiVersion, containers, metadata, resources, service)",
    ]
    assert validated == ["payments/hello.yaml"]


# --- the boundary -----------------------------------------------------------------------------------------


def test_a_route_outside_the_team_hosts(here: Path) -> None:
    teams = """\
    - name: payments
      workloads: payments
      hosts: ["*.pay.apps.example.com"]
    """
    routed = SERVED.format(name="shop") + "resources:\n  public: {type: route, params: {host: shop.apps.example.com}}\n"
    assert problems(env(here, teams, {"payments/shop.yaml": routed})) == [
        "payments/shop.yaml:11:40: $.resources.public.params.host: team 'payments' may not route 'shop.apps.example.com': it matches none of the team's hosts (*.pay.apps.example.com) (use a host within *.pay.apps.example.com)",
    ]


def test_a_team_host_outside_the_gateway_hosts(here: Path) -> None:
    teams = """\
    - name: payments
      workloads: payments
      hosts: ["*.pay.apps.example.com", "pay.example.org"]
    """
    assert problems(env(here, teams, {"payments/hello.yaml": PLAIN.format(name="hello")})) == [
        "prod.yaml:17:41: $.paas.teams[0].hosts[1]: the host 'pay.example.org' of team 'payments' lies within none of paas.gateway.hosts (*.apps.example.com) (use a host within the gateway's hosts, or add one to paas.gateway.hosts)",
    ]


def test_an_inline_route_outside_its_team_hosts(here: Path) -> None:
    teams = """\
    - name: shop
      hosts: ["*.shop.apps.example.com"]
      apps:
        - {name: web, image: registry.example.com/web:1.0, port: 8080, route: {host: web.apps.example.com}}
    """
    assert problems(env(here, teams, {})) == [
        "prod.yaml:18:86: $.paas.teams[0].apps[0].route.host: 'web.apps.example.com' matches none of the hosts of team 'shop' (*.shop.apps.example.com) (use a host within the team's hosts, or add one to $.paas.teams[0].hosts)",
    ]


def test_a_route_taken_by_another_team(here: Path) -> None:
    teams = """\
    - name: shop
      apps:
        - {name: web, image: registry.example.com/web:1.0, port: 8080, route: {host: shop.apps.example.com}}
    - name: payments
      workloads: payments
    """
    routed = SERVED.format(name="pay") + "resources:\n  public: {type: route, params: {host: shop.apps.example.com}}\n"
    assert problems(env(here, teams, {"payments/pay.yaml": routed})) == [
        "payments/pay.yaml:11:40: $.resources.public.params.host: team 'payments': route shop.apps.example.com/ is already used by shop/web (use another host or path)",
    ]


def test_a_dependency_on_a_missing_workload_or_port(here: Path) -> None:
    caller = """\
    apiVersion: score.dev/v1b1
    metadata:
      name: invoices
    containers:
      main:
        image: registry.example.com/invoices:1.0
    resources:
      books: {type: service-port, params: {workload: ledger/bookz}}
      admin: {type: service-port, params: {workload: ledger/books, port: admin}}
    """
    teams = PAYMENTS + "- name: ledger\n  workloads: ledger\n"
    files = {"payments/invoices.yaml": caller, "ledger/books.yaml": SERVED.format(name="books")}
    assert problems(env(here, teams, files)) == [
        "payments/invoices.yaml:8:50: $.resources.books.params.workload: team 'payments' depends on 'ledger/bookz', which does not exist (team 'ledger' has: books)",
        "payments/invoices.yaml:9:70: $.resources.admin.params.port: team 'payments' depends on port 'admin' of 'ledger/books', which does not expose it (its ports: web)",
    ]


def test_two_workloads_with_one_name(here: Path) -> None:
    files = {"payments/a.yaml": PLAIN.format(name="hello"), "payments/b.yaml": PLAIN.format(name="hello")}
    assert problems(env(here, PAYMENTS, files)) == [
        "payments/b.yaml:3:9: $.metadata.name: team 'payments' has two workloads named 'hello': payments/a.yaml and payments/b.yaml (give each workload of a team its own metadata.name)",
    ]


def test_the_quota_is_exceeded_at_the_workload_that_goes_past_it(here: Path) -> None:
    teams = """\
    - name: payments
      workloads: payments
      quota: {cpu: "1", pods: 5}
    """
    big = PLAIN + "    resources: {{requests: {{cpu: 300m}}}}\n"
    files = {"payments/a.yaml": big.format(name="aa"), "payments/b.yaml": big.format(name="bb")}
    files["payments/c.yaml"] = big.format(name="cc")
    assert problems(env(here, teams, files)) == [
        "payments/c.yaml:3:9: $.metadata.name: the workloads of team 'payments' up to 'cc' request 1200m CPU (sidecars and canaries included) but the team's quota.cpu is 1 (prod.yaml:17:20) (lower replicas or requests, or ask the platform team to raise quota.cpu at prod.yaml:17:20)",
    ]


def test_pod_security_refuses_root_and_capabilities(here: Path) -> None:
    extended = """\
    apiVersion: score.dev/v1b1
    metadata:
      name: {name}
      meshinstall: {{runAsRoot: true, capabilities: [NET_BIND_SERVICE, NET_ADMIN, CHOWN]}}
    containers:
      main:
        image: registry.example.com/{name}:1.0
    """
    files = {"payments/root.yaml": extended.format(name="root")}
    assert problems(env(here, PAYMENTS, files, pod_security="restricted")) == [
        "payments/root.yaml:4:28: $.metadata.meshinstall.runAsRoot: team 'payments': runAsRoot is refused under paas.podSecurity 'restricted' (run the containers as a non-root user and remove runAsRoot)",
        "payments/root.yaml:4:67: $.metadata.meshinstall.capabilities[1]: team 'payments': capability NET_ADMIN is refused under paas.podSecurity 'restricted' (restricted allows: NET_BIND_SERVICE)",
        "payments/root.yaml:4:78: $.metadata.meshinstall.capabilities[2]: team 'payments': capability CHOWN is refused under paas.podSecurity 'restricted' (restricted allows: NET_BIND_SERVICE)",
    ]
    assert problems(env(here, PAYMENTS, files, pod_security="baseline")) == [
        "payments/root.yaml:4:67: $.metadata.meshinstall.capabilities[1]: team 'payments': capability NET_ADMIN is refused under paas.podSecurity 'baseline' (baseline allows: AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT)",
    ]
    assert app(load_spec(env(here, PAYMENTS, files, pod_security="privileged")), "payments", "root").run_as_root


def test_apps_and_workloads_together(here: Path) -> None:
    teams = """\
    - name: payments
      workloads: payments
      apps: []
    """
    assert problems(env(here, teams, {"payments/hello.yaml": PLAIN.format(name="hello")})) == [
        "prod.yaml:16:7: $.paas.teams[0].workloads: team 'payments' has both apps and workloads (a team's apps are written here or in its Score files: move them to the workloads folder, or remove `workloads`)",
    ]


def test_a_missing_folder_is_an_error_and_an_empty_one_a_team_without_workloads_yet(here: Path) -> None:
    teams = PAYMENTS + "- name: ledger\n  workloads: ledger\n"
    (here / "ledger").mkdir()
    (here / "ledger" / "README.md").write_text("no workloads yet")
    assert problems(env(here, teams, {})) == [
        "prod.yaml:16:18: $.paas.teams[0].workloads: team 'payments': the workloads folder payments does not exist (the path is relative to prod.yaml, the file that declares it)",
    ]
    (here / "payments").mkdir()
    spec = load_spec(env(here, teams, {}))
    assert [(t.name, t.apps) for t in spec.paas.teams] == [("payments", ()), ("ledger", ())]


def test_a_broken_file_names_its_team(here: Path) -> None:
    files = {"payments/broken.yaml": "apiVersion: score.dev/v1b1\nmetadata: [\n", "payments/list.yaml": "- a\n"}
    assert problems(env(here, PAYMENTS, files)) == [
        "payments/broken.yaml:3:1: $: team 'payments': YAML syntax error: did not find expected node content (while parsing a flow node at line 3) (fix the YAML syntax)",
        "payments/list.yaml:1:1: $: team 'payments': a Score file must be a mapping, not a list (write a Score workload (apiVersion: score.dev/v1b1, see docs/score.md))",
    ]


def test_placeholder_and_secret_problems_are_at_their_variable(here: Path) -> None:
    caller = """\
    apiVersion: score.dev/v1b1
    metadata:
      name: invoices
    containers:
      main:
        image: registry.example.com/invoices:1.0
        variables:
          DSN: postgres://app:${resources.env.DB}@db
          NOPE: ${resources.nope.hostname}
          USER: ${resources.ledger.user}
          API_TOKEN: abc123
          OTHER: ${metadata.namespace}
    resources:
      env: {type: environment}
      ledger: {type: service-port, params: {workload: ledger}}
    """
    files = {"payments/invoices.yaml": caller, "payments/ledger.yaml": SERVED.format(name="ledger")}
    assert problems(env(here, PAYMENTS, files)) == [
        "payments/invoices.yaml:8:12: $.containers.main.variables.DSN: the secret ${resources.env.DB} is part of a longer value (give the secret a variable of its own: NAME: ${resources.env.VAR})",
        "payments/invoices.yaml:9:13: $.containers.main.variables.NOPE: resource 'nope' is not declared (declare it under resources (declared: env, ledger))",
        "payments/invoices.yaml:10:13: $.containers.main.variables.USER: resource 'ledger' provides no 'user' (use one of: hostname, port)",
        "payments/invoices.yaml:11:18: $.containers.main.variables.API_TOKEN: API_TOKEN looks like a secret but is given in plaintext (use ${resources.env.VAR} with an environment resource)",
        "payments/invoices.yaml:12:14: $.containers.main.variables.OTHER: ${metadata.namespace} is not a placeholder meshinstall resolves (use ${metadata.name} or ${resources.NAME.KEY}; write $${ for a literal ${)",
    ]


def test_the_extension_refuses_unknown_keys_and_other_resource_types(here: Path) -> None:
    odd = """\
    apiVersion: score.dev/v1b1
    metadata:
      name: odd
      meshinstall: {replica: 2, environments: {prod: {protocol: tcp}}}
    containers:
      main:
        image: registry.example.com/odd:1.0
    resources:
      db: {type: postgres, class: large}
      public: {type: route, params: {host: odd.apps.example.com, port: 80, tls: true}}
    """
    assert problems(env(here, PAYMENTS, {"payments/odd.yaml": odd})) == [
        "payments/odd.yaml:4:17: $.metadata.meshinstall.replica: unknown property 'replica' (did you mean 'replicas'?)",
        "payments/odd.yaml:4:51: $.metadata.meshinstall.environments.prod.protocol: unknown property 'protocol' (allowed here: replicas, traffic)",
        "payments/odd.yaml:9:14: $.resources.db.type: resource type 'postgres' is not provided by meshinstall (use one of: service-port, route, environment)",
        "payments/odd.yaml:10:72: $.resources.public.params.tls: unknown property 'tls' (allowed here: host, path, port)",
    ]


def test_every_problem_of_two_teams_is_reported_at_once(here: Path) -> None:
    teams = PAYMENTS + "- name: ledger\n  workloads: ledger\n"
    files = {
        "payments/invoices.yaml": PLAIN.format(name="invoices") + "resources:\n  xx: {type: dns}\n",
        "payments/bad.yaml": PLAIN.format(name="Bad"),
        "ledger/books.yaml": PLAIN.format(name="books").replace("registry.example.com/books:1.0", "."),
        "ledger/calls.yaml": PLAIN.format(name="calls")
        + "resources:\n  pp: {type: service-port, params: {workload: payments/nothing}}\n",
    }
    assert problems(env(here, teams, files)) == [
        "ledger/books.yaml:6:12: $.containers.main.image: '.' (an image built locally) is not supported (meshinstall deploys published images: write the image's registry name with a tag or digest)",
        "ledger/calls.yaml:8:47: $.resources.pp.params.workload: team 'ledger' depends on 'payments/nothing', which does not exist (team 'payments' has: Bad, invoices)",
        "payments/bad.yaml:3:9: $.metadata.name: \"Bad\" is not valid (lowercase letters, digits and '-', 2 to 63 characters, starting and ending with a letter or digit)",
        'payments/bad.yaml:6:12: $.containers.main.image: "registry.example.com/Bad:1.0" is not valid (an image with a tag or digest, e.g. registry.example.com/team/app:1.2.3)',
        "payments/invoices.yaml:8:14: $.resources.xx.type: resource type 'dns' is not provided by meshinstall (use one of: service-port, route, environment)",
    ]


def test_a_file_read_from_the_record_still_locates_its_problems(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    teams = PAYMENTS + "  hosts: ['*.pay.apps.example.com']\n"
    routed = SERVED.format(name="shop") + "resources:\n  public: {type: route, params: {host: shop.apps.example.com}}\n"
    spec = env(here, teams, {"payments/shop.yaml": routed})
    first = problems(spec)
    monkeypatch.setattr(score_schema, "schema_problems", lambda doc: pytest.fail("validated again"))
    assert problems(spec) == first
    assert first[0].startswith("payments/shop.yaml:11:40: $.resources.public.params.host: ")
