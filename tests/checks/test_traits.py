"""The checks' traits, declared as data on each class and acted on by `Check.run` and the runner (checks/runner.py):
which checks carry them, and what a run does with them."""

from __future__ import annotations

import ast
from typing import ClassVar

from conftest import ROOT
from recorded import REAL_NODES, cluster, outcome, recorded, refused, spec_path

from meshinstall.checks import base, load_all, runner
from meshinstall.checks.base import Check, Context, Result, Skip

CHECKS = ROOT / "checks"


def with_trait(trait: str) -> dict[str, object]:
    """The checks that set `trait`, with its value."""
    return {
        check_id: getattr(cls, trait)
        for check_id, cls in load_all().items()
        if getattr(cls, trait) != getattr(Check, trait)
    }


def test_the_traits_each_check_declares():
    assert with_trait("fatal") == {"MI001": base.SPEC_INVALID, "MI005": Skip("the cluster is unreachable (MI005)")}
    assert with_trait("needs_spec") == {"MI001": False}
    assert with_trait("gates") == {"MI005": ("verify",)}
    assert set(with_trait("needs_running_cluster")) == {"MI006", "MI007", "MI008", "MI012", "MI014"}
    assert set(with_trait("needs_containers")) == {"MI203", "MI204", "MI211", "MI303", "MI405"}
    assert set(with_trait("needs_cluster")) == {"MI001", "MI002", "MI003", "MI004", "MI010", "MI011"}


def test_an_invalid_spec_fails_mi001_which_stops_every_other_check(isolated):
    ctx = runner.context_for(ROOT / "tests" / "fixtures" / "invalid" / "port-out-of-range.yaml")
    report = runner.run("doctor", ctx)
    assert [r.check_id for r in report.failed] == ["MI001"]
    assert {r.check_id: outcome(r) for r in report.results if r.check_id != "MI001"} == {
        check_id: ("skipped", "spec", "the spec is invalid (see MI001)")
        for check_id, cls in load_all().items()
        if cls.phase == "doctor" and check_id != "MI001"
    }


def test_without_mi001_every_check_that_needs_the_spec_is_skipped_for_it(isolated):
    ctx = runner.context_for(ROOT / "tests" / "fixtures" / "invalid" / "port-out-of-range.yaml")
    report = runner.run("verify", ctx)
    assert {r.check_id: outcome(r) for r in report.results} == {
        check_id: ("skipped", "spec", "the spec is invalid (see MI001)")
        for check_id, cls in load_all().items()
        if cls.runs_in("verify")
    }


def test_verify_runs_mi005_first_as_its_gate_and_an_unreachable_cluster_stops_the_rest(isolated):
    report = runner.run("verify", cluster(refused(), spec_path(isolated, "staging")))
    checks = {check_id: cls() for check_id, cls in load_all().items() if cls.phase == "verify"}
    assert [r.check_id for r in report.results] == ["MI005", *checks]
    assert [r.check_id for r in report.failed] == ["MI005"]
    assert {r.check_id: outcome(r) for r in report.results[1:]} == {
        check_id: ("skipped", check.target, "the cluster is unreachable (MI005)") for check_id, check in checks.items()
    }


def test_doctor_on_a_simulated_cluster_not_started_skips_what_needs_it_running(isolated, monkeypatch):
    monkeypatch.setenv("MESHINSTALL_PASSPHRASE", "unit")
    report = runner.run(
        "doctor",
        cluster(refused(), spec_path(isolated, "dev"), "doctor"),
        {"MI005", "MI006", "MI007", "MI008", "MI012"},
    )
    assert [outcome(r) for r in report.results] == [
        (
            "skipped",
            str(spec_path(isolated, "dev").parent / ".meshinstall" / "clusters" / "dev" / "kubeconfig"),
            "the simulated cluster does not exist yet; `up` creates it",
        ),
        (
            "skipped",
            "SelfSubjectAccessReview",
            "the simulated cluster is not running; `up` starts it (its admin token has every right)",
        ),
        ("skipped", "/version", "the simulated cluster will run Kubernetes 1.34"),
        ("skipped", "webhooks, CRDs", "the simulated cluster is not running; `up` starts it"),
        ("skipped", "Helm releases", "the simulated cluster is not running; `up` starts it"),
    ]


def test_a_running_cluster_lets_the_checks_that_need_it_ask(isolated):
    ctx = cluster(recorded(REAL_NODES, "MI005/passed", "MI007/passed"), spec_path(isolated, "staging"), "doctor")
    assert outcome(load_all()["MI007"]().run(ctx)) == ("passed", "/version", "Kubernetes 1.34 with istio 1.30.3")


# --- the runner acts on the traits, not on ids --------------------------------------------------------------------


class Probe(Check):
    """A check that answers as its class says and records that it ran."""

    phase = "doctor"
    answer: ClassVar[str] = "passed"
    ran: ClassVar[list[str]] = []

    def inspect(self, ctx: Context) -> Result:
        Probe.ran.append(self.id)
        return self.passed(self.title) if self.answer == "passed" else self.failed(self.title, "down", "bring it up")


def probe(check_id: str, **traits: object) -> type[Check]:
    return type(f"Probe{check_id}", (Probe,), {"id": check_id, "title": f"probe {check_id}", **traits})


def test_a_fatal_check_that_fails_stops_the_cluster_checks_after_it_but_not_those_beside_them(isolated, monkeypatch):
    checks = [
        probe("MI090", needs_cluster=False),
        probe("MI091", fatal=Skip("the gate is shut (MI091)"), answer="failed"),
        probe("MI092"),
        probe("MI093", looks_at="what MI093 reads"),
        probe("MI094", phase="verify", gates=("doctor",)),
    ]
    monkeypatch.setattr(runner, "load_all", lambda: {c.id: c for c in checks})
    Probe.ran = []
    report = runner.run("doctor", cluster(refused(), spec_path(isolated, "staging"), "doctor"))
    assert [outcome(r) for r in report.results] == [
        ("passed", "probe MI090", ""),
        ("failed", "probe MI091", "down"),
        ("skipped", "probe MI092", "the gate is shut (MI091)"),
        ("skipped", "what MI093 reads", "the gate is shut (MI091)"),
        ("skipped", "probe MI094", "the gate is shut (MI091)"),
    ]
    assert sorted(Probe.ran) == ["MI090", "MI091"]


def test_a_fatal_check_that_does_not_read_the_cluster_runs_first_and_stops_every_other(isolated, monkeypatch):
    checks = [
        probe("MI080", needs_cluster=False),
        probe("MI081", needs_cluster=False, fatal=Skip("no ground (MI081)", "ground"), answer="failed"),
        probe("MI082"),
    ]
    monkeypatch.setattr(runner, "load_all", lambda: {c.id: c for c in checks})
    Probe.ran = []
    report = runner.run("doctor", cluster(refused(), spec_path(isolated, "staging"), "doctor"))
    assert [outcome(r) for r in report.results] == [
        ("skipped", "ground", "no ground (MI081)"),
        ("failed", "probe MI081", "down"),
        ("skipped", "ground", "no ground (MI081)"),
    ]
    assert Probe.ran == ["MI081"]


# --- shared behaviour lives in the base and checks/probes.py, not in siblings ------------------------------------


def test_no_check_imports_from_another_check():
    for path in sorted(CHECKS.glob("*/mi*.py")):
        imported = [
            node.module or "" for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom)
        ]
        siblings = [m for m in imported if any(part.startswith("mi") and part[2:5].isdigit() for part in m.split("."))]
        assert not siblings, (
            f"{path.relative_to(ROOT)} imports {siblings}: shared probes belong in checks/probes.py or checks/base.py"
        )


def test_no_check_asks_by_hand_whether_the_simulated_cluster_runs():
    """`needs_running_cluster` says so; MI005 (whose subject it is) and MI009 (which then counts the spec's nodes) read it."""
    asking = {path.name[:5].upper() for path in CHECKS.glob("*/mi*.py") if "cluster_not_running" in path.read_text()}
    assert asking == {"MI005", "MI009"}


def test_the_traits_are_described_in_the_checks_index():
    index = (ROOT / "docs" / "checks" / "README.md").read_text()
    for trait in ("needs_spec", "needs_cluster", "needs_running_cluster", "needs_containers", "fatal", "gates"):
        assert f"`{trait}" in index, trait
