"""The spec reference in docs/ is generated from the schema and must match it."""

from __future__ import annotations

from conftest import ROOT

from meshinstall.schemas.reference import markdown


def test_spec_reference_is_up_to_date():
    committed = (ROOT / "docs" / "spec-reference.md").read_text(encoding="utf-8")
    assert committed == markdown(), "regenerate: python -m meshinstall.schemas.reference > docs/spec-reference.md"


def test_reference_lists_every_key_of_the_issue_contract():
    page = markdown()
    for key in (
        "paas.teams[].apps[].traffic.canary.weight",
        "mesh.ingressGateway.serviceType",
        "monitoring.alerts.latencyP99Ms",
        "state.backend",
        "charts.mirror",
    ):
        assert f"| {key} |" in page, key
