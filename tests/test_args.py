"""The model-to-arguments mapping (stacks/program/args.py) as pure functions: what each component is handed for a spec."""

from __future__ import annotations

from dataclasses import replace

from program_runs import spec_of

from meshinstall.components.manifests.app import AppArgs, Canary, CircuitBreaker, Retries, Route, TrafficPolicy
from meshinstall.components.manifests.control_plane import IstiodSettings, ProxyResources
from meshinstall.components.manifests.monitoring import AlertThresholds, AppTarget, PrometheusStack
from meshinstall.components.manifests.paas import SharedGateway
from meshinstall.components.manifests.team import Quota
from meshinstall.schemas import model
from meshinstall.stacks.program import args, chart_settings
from meshinstall.stacks.program.releases import releases
from meshinstall.stacks.program.upgrade import MeshLayout, Revision, steady


def team(spec: model.Spec, name: str) -> model.Team:
    return next(t for t in spec.paas.teams if t.name == name)


def app(spec: model.Spec, team_name: str, name: str) -> model.App:
    return next(a for a in team(spec, team_name).apps if a.name == name)


def test_an_app_is_handed_its_workload_route_callers_and_traffic_policy():
    spec = spec_of("dev")
    payments = team(spec, "payments")
    namespaces = args.app_namespaces(spec.paas)
    got = args.app_args(app(spec, "payments", "checkout"), payments, namespaces, {"DB_PASSWORD": "pw"})
    assert got == AppArgs(
        name="checkout",
        team="payments",
        namespace="payments",
        image="registry.example.com/payments/checkout:1.4.2",
        replicas=2,
        port=8080,
        protocol="http",
        cpu="250m",
        memory="256Mi",
        automount_service_account_token=False,
        env={"LOG_LEVEL": "info"},
        secret_env=("DB_PASSWORD",),
        route=Route("checkout.apps.example.com", "/"),
        allow_from=("orders", "storefront/web"),
        traffic=TrafficPolicy(
            "5s",
            Retries(3, "5xx,reset,connect-failure,retriable-4xx", "2s"),
            CircuitBreaker(5, "30s", 50),
            Canary("registry.example.com/payments/checkout:1.5.0", 1, 10),
        ),
        secret_values={"DB_PASSWORD": "pw"},
        team_namespaces={"payments": "payments", "storefront": "storefront"},
    )


def test_an_app_without_route_or_policy_gets_none_for_each():
    spec = spec_of("dev")
    got = args.app_args(app(spec, "storefront", "catalog"), team(spec, "storefront"), {})
    assert (got.route, got.allow_from, got.secret_env, got.secret_values) == (None, ("web",), (), {})
    assert got.traffic == TrafficPolicy(circuit_breaker=CircuitBreaker(3, "30s", 50))
    assert got.protocol == "grpc"


def test_a_team_gets_its_quota_pod_security_and_the_injection_label_of_its_revision():
    spec = spec_of("prod")
    got = args.team_args(team(spec, "payments"), spec, steady(spec, None))
    assert (got.name, got.namespaces, got.groups) == ("payments", ("payments",), ("payments-devs",))
    assert got.quota == Quota("8", "16Gi", 40)
    assert got.pod_security == "restricted"
    assert dict(got.namespace_labels) == {"istio.io/rev": "1-30-3"}
    assert dict(got.default_request) == {"cpu": "200m", "memory": "256Mi"}, "the proxy's requests"


def test_mid_upgrade_each_team_gets_the_injection_label_of_its_own_revision():
    spec = spec_of("dev")
    old, new = Revision("default", "1.29.6"), Revision("1-30-3", "1.30.3", "istiod-1-30-3")
    layout = MeshLayout((old, new), old, "1.30.3", {"payments": "1-30-3"})
    got = {t.name: dict(t.namespace_labels) for t in args.paas_args(spec, layout, {}, ()).teams}
    assert got == {"payments": {"istio.io/rev": "1-30-3"}, "storefront": {"istio-injection": "enabled"}}


def test_paas_holds_every_team_then_every_app_in_team_order_with_its_secret_env():
    spec = spec_of("dev")
    got = args.paas_args(spec, steady(spec, None), {("payments", "checkout"): {"DB_PASSWORD": "pw"}}, ())
    assert [t.name for t in got.teams] == ["payments", "storefront"]
    assert [(a.team, a.name) for a in got.apps] == [
        ("payments", "checkout"),
        ("payments", "orders"),
        ("storefront", "web"),
        ("storefront", "catalog"),
    ]
    assert got.apps[0].secret_values == {"DB_PASSWORD": "pw"} and got.apps[1].secret_values == {}
    assert got.gateway == SharedGateway(("*.apps.example.com",), None)


def test_the_shared_gateway_carries_the_tls_secret_and_is_none_without_a_gateway():
    spec = spec_of("prod")
    assert args.shared_gateway(spec.paas.gateway) == SharedGateway(("*.apps.example.com",), "apps-tls")
    assert (
        args.paas_args(replace(spec, paas=replace(spec.paas, gateway=None)), steady(spec, None), {}, ()).gateway is None
    )


def test_istiod_settings_come_from_the_mesh_and_the_sidecars():
    spec = spec_of("prod")
    assert chart_settings.istiod_settings(spec, "1-30-3") == IstiodSettings(
        revision="1-30-3",
        profile="default",
        cpu="1",
        memory="4Gi",
        cni=True,
        outbound_traffic_policy="REGISTRY_ONLY",
        trace_sampling=1.0,
        proxy=ProxyResources("200m", "256Mi", "2", "1Gi"),
        hold_application_until_proxy_starts=True,
    )


def test_sidecars_span_every_team_namespace():
    spec = spec_of("prod")
    got = args.sidecars_args(spec, ())
    assert (got.mtls, got.outbound_traffic_policy, got.mesh_namespaces) == (
        "strict",
        "REGISTRY_ONLY",
        ("payments", "storefront"),
    )


def test_monitoring_watches_every_app_at_the_spec_s_thresholds():
    spec = spec_of("prod")
    got = args.monitoring_args(spec, releases(spec), "pw", (), {})
    assert got.apps == (
        AppTarget("payments", "payments", "checkout"),
        AppTarget("payments", "payments", "orders"),
        AppTarget("storefront", "storefront", "web"),
        AppTarget("storefront", "storefront", "catalog"),
    )
    assert got.alerts == AlertThresholds(2, 500)
    assert got.grafana is True and got.grafana_password == "pw"


def test_monitoring_without_alerts_has_no_thresholds():
    spec = spec_of("dev")
    quiet = replace(spec, monitoring=replace(spec.monitoring, alerts=model.Alerts(enabled=False)))
    assert args.monitoring_args(quiet, releases(quiet), None, (), {}).alerts is None


def test_grafana_reads_its_password_from_the_secret_only_when_the_spec_gives_one():
    spec = spec_of("prod")
    assert chart_settings.prometheus_stack(spec.monitoring) == PrometheusStack(
        "30d", "200Gi", True, True, "grafana-admin"
    )
    without = replace(spec.monitoring, grafana=model.Grafana(enabled=True, admin_password=None))
    assert chart_settings.prometheus_stack(without).grafana_secret is None
