"""`meshinstall graph ENV` (issue 29, item 6): every team, app, route, dependency and canary split of the example
environment is drawn, checked on the DOT text; Mermaid for docs; one picture rendered by Graphviz."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT
from test_cli import run

from meshinstall import operations
from meshinstall.operations import graph as drawing


def edges(text: str) -> set[tuple[str, str, str]]:
    return set(re.findall(r'"([^"]+)" -> "([^"]+)" \[label="([^"]*)"', text))


def test_the_dot_draws_every_team_app_route_dependency_and_canary_of_the_example(isolated):
    spec = operations.load("dev")
    code, text, _ = run("graph", "dev")
    assert code == 0
    for team in spec.paas.teams:
        assert f'subgraph "cluster_team-{team.name}" {{ label="team {team.name} ({team.app_namespace})"' in text
        for app in team.apps:
            assert f'"{team.name}/{app.name}" [label="{app.name}\\n' in text, (team.name, app.name)
            for caller in app.allow_from:
                source = caller if "/" in caller else f"{team.name}/{caller}"
                assert (source, f"{team.name}/{app.name}", "may call") in edges(text), caller
            if app.route:
                assert ("gateway", f"{team.name}/{app.name}", app.route.host + app.route.path) in edges(text)
    # base.yaml: checkout takes 10% on its canary; orders and storefront/web may call it; web may call catalog
    assert ("payments/checkout", "payments/checkout@canary", "10%") in edges(text)
    assert "stable 90%" in text
    assert {
        ("payments/orders", "payments/checkout", "may call"),
        ("storefront/web", "storefront/catalog", "may call"),
    } <= edges(text)
    assert '"istiod" [label="istiod 1.30.3' in text and '"prometheus"' in text and '"grafana"' in text


def test_one_team_is_its_box_the_routes_into_it_and_the_calls_in_and_out(isolated):
    code, text, _ = run("graph", "dev", "--team", "storefront")
    assert code == 0
    assert "cluster_team-storefront" in text and "cluster_team-payments" not in text
    assert ("storefront/web", "payments/checkout", "may call") in edges(text), "a call out of the team"
    assert '"payments/checkout" [label="payments/checkout"' in text, "the other team's app, outside any box"
    assert "istiod" not in text
    code, _, err = run("graph", "dev", "--team", "billing")
    assert code == 2 and "has no team 'billing' (its teams: payments, storefront)" in err


def test_mermaid_for_pull_requests(isolated):
    code, text, _ = run("graph", "dev", "--format", "mermaid")
    assert code == 0 and text.startswith("flowchart LR")
    assert 'subgraph team-payments["team payments (payments)"]' in text
    assert text.count('-.->|"may call"|') == 3 and '-->|"10%"|' in text


@pytest.mark.needs_dot
def test_an_svg_is_drawn_by_graphviz(isolated, tmp_path):
    out = tmp_path / "dev.svg"
    code, _, err = run("graph", "dev", "--format", "svg", "--out", str(out))
    assert code == 0, err
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for name in ("checkout", "orders", "web", "catalog", "ingress gateway", "may call", "10%"):
        assert name in svg, name


def test_the_readme_picture_is_the_example_platform_as_drawn_now():
    """docs/platform-dev.svg, shown in the README, is `graph dev --format svg` of the example (regenerate it with that
    command when the example changes)."""
    picture = (ROOT / "docs" / "platform-dev.svg").read_text()
    spec = operations.load(ROOT / "environments" / "dev.yaml")
    for team in spec.paas.teams:
        assert f"team {team.name}" in picture
        for app in team.apps:
            assert f">{app.name}<" in picture or f">{app.name} canary<" in picture, app.name
    assert "platform-dev.svg" in (ROOT / "README.md").read_text()
    assert drawing.graph(spec).title in picture


def test_an_out_file_that_cannot_be_written_is_a_usage_error_not_a_traceback(isolated):
    for args in (
        ("graph", "dev", "--out", "/nonexistent/folder/dev.dot"),
        ("codeowners", "--out", "/proc/x/CODEOWNERS"),
    ):
        code, _, err = run(*args)
        assert code == 2 and "cannot write it" in err and "Traceback" not in err, err
