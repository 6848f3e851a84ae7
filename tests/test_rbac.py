"""`meshinstall rbac`: the rules cover every kind the program and its charts create, for each example environment;
the printed ClusterRole is those rules; docs/rbac.md is generated from them."""

from __future__ import annotations

import shutil

import pytest
import yaml
from chart_values import render
from conftest import ROOT
from program_runs import resources, spec_of

from meshinstall.cli.main import main
from meshinstall.stacks.program import rbac
from meshinstall.stacks.program.releases import releases

ENVIRONMENTS = ("dev", "staging", "prod", "linkerd")


def plural(kind: str) -> str:
    lower = kind.lower()
    if lower.endswith("y") and lower[-2] not in "aeiou":
        return lower[:-1] + "ies"
    return lower + ("es" if lower.endswith("s") else "s")


def created(env: str) -> set[tuple[str, str]]:
    """(API group, resource) of every object `up` of `env` creates: the program's own, and its charts' rendered ones."""
    found = set()
    for registered in resources(env):
        package, version_kind = registered.type.split(":")[1:3] if registered.type.count(":") == 2 else ("", "")
        if registered.type.startswith("kubernetes:") and package != "helm.sh/v3":
            group = package.rsplit("/", 1)[0]
            found.add(("" if group == "core" else group, plural(version_kind)))
    for release in releases(spec_of(env)).all():
        for obj in render(release):
            if obj and (obj.get("metadata", {}).get("annotations") or {}).get("helm.sh/hook") != "test":
                found.add(
                    (obj["apiVersion"].rsplit("/", 1)[0] if "/" in obj["apiVersion"] else "", plural(obj["kind"]))
                )
    return found


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.needs_helm
def test_the_rules_let_the_installer_create_update_and_delete_every_kind_it_installs(env):
    granted = {pair for rule in rbac.rules(spec_of(env)) for pair in rule.pairs()}
    kinds = created(env)
    assert ("", "namespaces") in kinds and ("apiextensions.k8s.io", "customresourcedefinitions") in kinds
    missing = sorted(
        f"{verb} {resource}.{group}"
        for group, resource in kinds
        for verb in rbac.MANAGE
        if (group, resource, verb) not in granted
    )
    assert not missing, missing


def test_rules_a_spec_does_not_need_are_left_out(tmp_path):
    from meshinstall.schemas.validate import load_spec

    data = yaml.safe_load((ROOT / "environments" / "dev.yaml").read_text())
    shutil.copy(ROOT / "environments" / "base.yaml", tmp_path / "base.yaml")  # a spec extends its repository's files
    data["extends"] = "base.yaml"
    data["monitoring"] = {
        piece: {"enabled": False} for piece in ("prometheus", "grafana", "kiali", "tracing", "alerts")
    }
    bare = tmp_path / "bare.yaml"
    bare.write_text(yaml.safe_dump(data))
    without = {r.why for r in rbac.rules(load_spec(bare))}
    monitoring = next(r for r in rbac.RULES if "monitoring.coreos.com" in r.groups)
    assert monitoring.why in {r.why for r in rbac.rules(spec_of("dev"))} and monitoring.why not in without


def test_the_printed_cluster_role_is_the_rules_with_their_reasons(capsys):
    assert main(["rbac", str(ROOT / "environments" / "dev.yaml")]) == 0
    printed = capsys.readouterr().out
    role = yaml.safe_load(printed)
    assert role["kind"] == "ClusterRole" and role["metadata"]["name"] == rbac.ROLE_NAME
    rules = rbac.rules(spec_of("dev"))
    assert role["rules"] == [
        {"apiGroups": list(r.groups), "resources": list(r.resources), "verbs": list(r.verbs)} for r in rules
    ]
    assert all(f"# {r.why}" in printed for r in rules)


def test_the_rbac_page_is_generated_from_the_rules():
    assert (ROOT / "docs" / "rbac.md").read_text() == rbac.markdown(), (
        "regenerate: python -m meshinstall.stacks.program.rbac > docs/rbac.md"
    )
