"""`meshinstall teams export`: inline apps written as Score files that the official Score schema accepts."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

from meshinstall.cli.main import main
from meshinstall.operations import load
from meshinstall.operations import score_export as export
from meshinstall.schemas.model import App, Route, Team

ROOT = Path(__file__).resolve().parent.parent
VENDORED_SCORE_SCHEMA = ROOT / "schemas" / "score" / "score-v1b1.json"
SCORE_MIRROR = Path("/work/.mirror/score-spec+spec/repo")  # the upstream repository's snapshot, at tag 0.4.1

BASE = """\
apiVersion: meshinstall/v1
kind: MeshSpec
mesh: {provider: istio, version: 1.30.3}
paas:
  gateway: {hosts: ["*.apps.example.com"]}
  teams:
    - name: payments
      groups: [payments-devs]
      apps:
        - name: checkout
          image: registry.example.com/payments/checkout:1.4.2
          port: 8080
          replicas: 2
          resources: {cpu: 250m, memory: 256Mi}
          env: {LOG_LEVEL: info, BANNER: "pay ${amount} now"}
          secretEnv: {DB_PASSWORD: {fromEnv: CHECKOUT_DB_PASSWORD}, API_KEY: {fromFile: secrets/api-key}}
          route: {host: checkout.apps.example.com, path: /pay}
          allowFrom: [orders, storefront/web]
          traffic:
            timeout: 5s
            retries: {attempts: 3, perTryTimeout: 2s}
            circuitBreaker: {consecutiveErrors: 5, ejectionTime: 30s}
            canary: {image: registry.example.com/payments/checkout:1.5.0, weight: 10}
        - name: orders
          image: registry.example.com/payments/orders:2.0.1
          port: 9090
          protocol: grpc
          automountServiceAccountToken: true
          resources: {cpu: "0.5", memory: 64k}
    - name: storefront
      apps:
        - name: web
          image: registry.example.com/storefront/web:3.2.0
          port: 8080
          route: {host: shop.apps.example.com}
    - name: billing
      workloads: ../teams/billing
"""
LEDGER = """\
apiVersion: score.dev/v1b1
metadata: {name: ledger}
containers:
  ledger: {image: "registry.example.com/billing/ledger:1.0"}
"""
DEV = "extends: base.yaml\nmetadata: {name: dev}\ncluster: {provider: simulated}\n"

CHECKOUT = """\
# payments/checkout, exported from environment dev by `meshinstall teams export`.
apiVersion: score.dev/v1b1
metadata:
  name: checkout
  meshinstall:
    replicas: 2
    traffic:
      timeout: 5s
      retries:
        attempts: 3
        perTryTimeout: 2s
      circuitBreaker:
        consecutiveErrors: 5
      canary:
        image: registry.example.com/payments/checkout:1.5.0
        weight: 10
containers:
  checkout:
    image: registry.example.com/payments/checkout:1.4.2
    variables:
      LOG_LEVEL: info
      BANNER: pay $${amount} now
      DB_PASSWORD: ${resources.env.CHECKOUT_DB_PASSWORD}
    resources:
      requests:
        cpu: 250m
        memory: 256Mi
service:
  ports:
    http-8080:
      port: 8080
      targetPort: 8080
resources:
  public:
    type: route
    params:
      host: checkout.apps.example.com
      path: /pay
      port: 8080
  env:
    type: environment
"""


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.pass_context
def _entry(ctx: click.Context) -> None:
    sys.exit(main(list(ctx.args)))


def run(*args: str) -> tuple[int, str, str]:
    """Run `meshinstall ARGS` as the console script does: (exit code, stdout, stderr)."""
    result = CliRunner().invoke(_entry, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@cache
def score_schema() -> dict[str, Any] | None:
    """The official Score schema: the copy vendored in schemas/score/, else the upstream snapshot's at 0.4.1."""
    if VENDORED_SCORE_SCHEMA.is_file():
        return json.loads(VENDORED_SCORE_SCHEMA.read_text(encoding="utf-8"))
    try:
        shown = subprocess.run(
            ["git", "-C", str(SCORE_MIRROR), "show", "0.4.1:score-v1b1.json"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return json.loads(shown.stdout)


def score_problems(path: Path) -> list[str]:
    """What the official Score schema says against the file (skips the test where the schema is not at hand)."""
    from jsonschema import Draft202012Validator

    schema = score_schema()
    if schema is None:
        pytest.skip(f"the official Score schema is neither at {VENDORED_SCORE_SCHEMA} nor in {SCORE_MIRROR}")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [f"{path.name}: {e.json_path}: {e.message}" for e in Draft202012Validator(schema).iter_errors(document)]


@pytest.fixture
def environments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """dev extends base, which declares the teams: two with inline apps, one that reads its own folder."""
    folder = tmp_path / "environments"
    folder.mkdir()
    (folder / "base.yaml").write_text(BASE)
    (folder / "dev.yaml").write_text(DEV)
    (tmp_path / "teams" / "billing").mkdir(parents=True)
    (tmp_path / "teams" / "billing" / "ledger.yaml").write_text(LEDGER)
    monkeypatch.chdir(tmp_path)
    return folder


def test_export_writes_a_score_file_per_app_and_prints_each_teams_spec_change(environments):
    code, out, err = run("teams", "export", "dev")
    assert code == 0, err
    written = sorted(p.relative_to(environments).as_posix() for p in (environments / "teams").rglob("*.yaml"))
    assert written == ["teams/payments/checkout.yaml", "teams/payments/orders.yaml", "teams/storefront/web.yaml"]
    assert "wrote environments/teams/payments/checkout.yaml\n" in out
    assert "  environments/base.yaml, team payments:  workloads: teams/payments\n" in out
    assert "  environments/base.yaml, team storefront:  workloads: teams/storefront\n" in out
    assert "nothing to export for team billing" in out
    assert "payments/checkout: secretEnv API_KEY is read from a file (secrets/api-key)" in err


def test_an_app_becomes_the_score_file_of_the_contract(environments):
    assert run("teams", "export", "dev")[0] == 0
    assert (environments / "teams" / "payments" / "checkout.yaml").read_text() == CHECKOUT


def test_callers_get_a_service_port_resource_and_defaults_are_left_out(environments):
    assert run("teams", "export", "dev")[0] == 0
    orders = yaml.safe_load((environments / "teams" / "payments" / "orders.yaml").read_text())
    web = yaml.safe_load((environments / "teams" / "storefront" / "web.yaml").read_text())
    assert orders["metadata"]["meshinstall"] == {"protocol": "grpc", "automountServiceAccountToken": True}
    assert orders["service"]["ports"] == {"grpc-9090": {"port": 9090, "targetPort": 9090}}
    assert orders["containers"]["orders"]["resources"] == {"requests": {"cpu": "0.5", "memory": "64K"}}
    assert orders["resources"] == {
        "checkout": {"type": "service-port", "params": {"workload": "checkout", "port": "http-8080"}}
    }
    assert web["metadata"] == {"name": "web"}
    assert web["resources"] == {
        "checkout": {"type": "service-port", "params": {"workload": "payments/checkout", "port": "http-8080"}},
        "public": {"type": "route", "params": {"host": "shop.apps.example.com", "path": "/", "port": 8080}},
    }


def test_every_exported_file_validates_against_the_official_score_schema(environments):
    assert run("teams", "export", "dev")[0] == 0
    files = sorted((environments / "teams").rglob("*.yaml"))
    assert len(files) == 3
    assert [problem for path in files for problem in score_problems(path)] == []


def test_export_refuses_to_overwrite_unless_forced(environments):
    assert run("teams", "export", "dev")[0] == 0
    checkout = environments / "teams" / "payments" / "checkout.yaml"
    checkout.write_text("# the team's own edit\n")
    code, _, err = run("teams", "export", "dev")
    assert code == 2
    assert "environments/teams/payments/checkout.yaml" in err and "--force" in err
    assert checkout.read_text() == "# the team's own edit\n"
    assert run("teams", "export", "dev", "--force")[0] == 0
    assert checkout.read_text() == CHECKOUT


def test_out_puts_the_folders_elsewhere_and_the_spec_change_is_relative_to_the_file_declaring_the_team(environments):
    code, out, _ = run("teams", "export", "dev", "--out", "apps")
    assert code == 0
    assert (environments.parent / "apps" / "storefront" / "web.yaml").is_file()
    assert "team storefront:  workloads: ../apps/storefront\n" in out


def test_a_caller_that_is_not_exported_is_a_warning_with_the_resource_to_write(environments):
    spec = load("dev")
    web = dataclasses.replace(spec.paas.teams[1], workloads="../teams/storefront")
    spec = dataclasses.replace(spec, paas=dataclasses.replace(spec.paas, teams=(spec.paas.teams[0], web)))
    found = export.workloads(spec)
    assert [item.name for item in found.items] == ["checkout", "orders"]
    assert (
        "payments/checkout: allowFrom 'storefront/web' is a workload of team storefront's Score files: add to its "
        "resources checkout: {type: service-port, params: {workload: payments/checkout, port: http-8080}}"
    ) in found.warnings


def test_a_callee_whose_name_is_taken_gets_its_teams_name_in_front():
    caller = App("web", "registry.example.com/w:1", 8080, route=Route("shop.apps.example.com"))
    public = App("public", "registry.example.com/p:1", 8080)
    other = App("public", "registry.example.com/p:2", 9090, protocol="grpc")
    document, _ = export.score_document(
        Team("shop", apps=(caller,)), caller, [(Team("shop"), public), (Team("ops"), other)]
    )
    assert list(document["resources"]) == ["shop-public", "ops-public", "public"]
    assert document["resources"]["ops-public"]["params"] == {"workload": "ops/public", "port": "grpc-9090"}


@pytest.mark.parametrize(
    ("spec", "score"), [("128Mi", "128Mi"), ("64k", "64K"), ("0", "0.0"), ("0128Mi", "128Mi"), ("1.5Gi", "1.5Gi")]
)
def test_memory_is_written_as_score_spells_it(spec, score):
    assert export.score_memory(spec) == score


def test_the_starters_workload_is_what_its_inline_app_exported_and_scores_schema_accepts_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("init")[0] == 0
    hello = tmp_path / "environments" / "teams" / "demo" / "hello.yaml"
    assert score_problems(hello) == []
    inline = App(
        "hello", "registry.example.com/demo/hello:1.0.0", 8080, replicas=2, route=Route("hello.apps.example.com")
    )
    assert yaml.safe_load(hello.read_text()) == export.score_document(Team("demo", apps=(inline,)), inline)[0]
    assert run("validate")[0] == 0
