"""The monitoring checks (MI301-MI303), each run offline on recorded answers of a cluster with real nodes; MI303,
which needs running containers, is skipped where none run."""

from __future__ import annotations

from pathlib import Path

from recorded import REAL_NODES, cluster, recorded, refused, run_check, spec_path

PROMETHEUS_PODS = "pods app.kubernetes.io/name=prometheus in monitoring"
RULES = "prometheusrules/<app>-alerts"


def staging(isolated: Path, *fixtures: str):
    return cluster(recorded(REAL_NODES, *fixtures), spec_path(isolated, "staging"))


def test_mi301_passes_when_the_scrape_targets_dashboard_and_prometheus_are_in_place(isolated):
    assert run_check("MI301", staging(isolated, "MI301/passed")) == ("passed", "namespace monitoring", "")


def test_mi301_fails_on_a_missing_scrape_target(isolated):
    assert run_check("MI301", staging(isolated, "MI301/failed")) == (
        "failed",
        "namespace monitoring",
        "missing: podmonitors/envoy-sidecars",
    )


def test_mi302_passes_when_every_app_has_its_alerts_at_the_spec_s_thresholds(isolated):
    assert run_check("MI302", staging(isolated, "MI302/passed")) == ("passed", RULES, "4 app(s)")


def test_mi302_fails_on_a_loosened_alert(isolated):
    assert run_check("MI302", staging(isolated, "MI302/failed")) == (
        "failed",
        RULES,
        "payments/checkout (rules differ from the spec's thresholds)",
    )


def test_mi303_passes_when_a_prometheus_pod_is_ready(isolated):
    assert run_check("MI303", staging(isolated, "MI303/passed")) == ("passed", PROMETHEUS_PODS, "")


def test_mi303_fails_when_no_prometheus_pod_is_ready(isolated):
    assert run_check("MI303", staging(isolated, "MI303/failed")) == (
        "failed",
        PROMETHEUS_PODS,
        "no Prometheus pod is Ready",
    )


def test_mi303_is_skipped_where_no_container_runs(isolated):
    why = "simulated cluster has no containers: prometheus-operator does not run, so it never makes the Prometheus StatefulSet"
    assert run_check("MI303", cluster(refused(), spec_path(isolated, "dev"))) == ("skipped", PROMETHEUS_PODS, why)
