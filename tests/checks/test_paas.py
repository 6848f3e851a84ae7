"""The PaaS checks (MI401-MI405), each run offline on recorded answers of a cluster with real nodes. MI404 asks the
engine; its decision is tested here with the engine's answers recorded (`unchanged.nothing_to_do`, `runs.preview`)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from recorded import REAL_NODES, Host, Ran, cluster, on_host, recorded, refused, run_check, spec_path

from meshinstall.stacks.engine import environment, runs, unchanged

APPS = "app Deployments and Services"
TRAFFIC = "virtualservices, destinationrules"
GATEWAY = "service/istio-ingress/istio-ingressgateway"


def staging(isolated: Path, *fixtures: str):
    return cluster(recorded(REAL_NODES, *fixtures), spec_path(isolated, "staging"))


def test_mi401_passes_when_every_team_namespace_has_its_objects(isolated):
    assert run_check("MI401", staging(isolated, "MI401/passed")) == (
        "passed",
        "team namespaces",
        "payments, storefront",
    )


def test_mi401_fails_on_a_quota_changed_by_hand(isolated):
    wrong = (
        "payments: resourcequota team-quota is pods=1, requests.cpu=8, requests.memory=16Gi, "
        "the spec says pods=40, requests.cpu=8, requests.memory=16Gi"
    )
    assert run_check("MI401", staging(isolated, "MI401/failed")) == ("failed", "team namespaces", wrong)


def test_mi402_passes_when_every_app_is_available_behind_its_service(isolated):
    assert run_check("MI402", staging(isolated, "MI402/passed")) == ("passed", APPS, "")


def test_mi402_fails_on_an_app_scaled_to_zero(isolated):
    wrong = "deployment/payments/orders 0/2 available; service/payments/orders has no ready endpoints"
    assert run_check("MI402", staging(isolated, "MI402/failed")) == ("failed", APPS, wrong)


def test_mi403_passes_when_the_traffic_policy_is_the_spec_s(isolated):
    assert run_check("MI403", staging(isolated, "MI403/passed")) == ("passed", TRAFFIC, "")


def test_mi403_fails_on_canary_weights_shifted_by_hand(isolated):
    assert run_check("MI403", staging(isolated, "MI403/failed")) == (
        "failed",
        TRAFFIC,
        "virtualservices/payments/checkout differs in http",
    )


def engine(
    monkeypatch,
    decision: unchanged.Decision,
    events: tuple[tuple[str, str], ...] = (),
    changes: dict[str, int] | None = None,
) -> None:
    """The engine as MI404 asks it: the stack opened, the decision without the engine, and a refreshing preview that
    reports `events` (operation, URN) and `changes`."""
    monkeypatch.setattr(
        environment, "open_environment", lambda spec, refresh=False: SimpleNamespace(stack=f"stack {spec.name}")
    )
    monkeypatch.setattr(unchanged, "nothing_to_do", lambda opened, refresh: decision)

    def preview(stack, on_event=None, expect_no_changes=False, refresh=False) -> runs.Outcome:
        for op, urn in events:
            on_event(
                SimpleNamespace(
                    resource_pre_event=SimpleNamespace(metadata=SimpleNamespace(urn=urn, op=SimpleNamespace(value=op)))
                )
            )
        return runs.Outcome("preview", changes or {"same": 212})

    monkeypatch.setattr(runs, "preview", preview)


def test_mi404_passes_when_every_object_is_as_the_last_update_left_it(isolated, monkeypatch):
    engine(
        monkeypatch,
        unchanged.Decision(
            runs.Outcome("up", {"same": 212}), "nothing changed since the last update (2026-11-26 09:14)"
        ),
    )
    assert run_check("MI404", staging(isolated)) == (
        "passed",
        "stack staging (212 resources as the last update left them)",
        "",
    )


def test_mi404_passes_when_a_refreshing_preview_shows_no_change(isolated, monkeypatch):
    engine(
        monkeypatch,
        unchanged.Decision(None, "1 object(s) touched in the cluster since the last update, first Namespace payments"),
        events=(("refresh", "urn:pulumi:staging::meshinstall::kubernetes:core/v1:Namespace::payments"),),
    )
    assert run_check("MI404", staging(isolated)) == ("passed", "stack staging (preview --refresh)", "")


def test_mi404_fails_on_a_change_the_refreshing_preview_finds(isolated, monkeypatch):
    urn = "urn:pulumi:staging::meshinstall::meshinstall:components:App$kubernetes:networking.istio.io/v1:VirtualService::payments-checkout"
    engine(
        monkeypatch,
        unchanged.Decision(
            None, "1 object(s) touched in the cluster since the last update, first VirtualService payments/checkout"
        ),
        events=(("refresh", urn), ("update", urn)),
        changes={"same": 211, "update": 1},
    )
    assert run_check("MI404", staging(isolated)) == (
        "failed",
        "stack staging (preview --refresh)",
        "1 change(s): payments-checkout",
    )


def gateway_host(answers: dict[str, str]) -> Host:
    """This machine, whose curl through the gateway gets `answers` by Host header (000: no answer)."""

    def curl(command: str) -> Ran:
        host = command.split("-H 'Host: ", 1)[1].split("'", 1)[0]
        return Ran(True, answers.get(host, "000"))

    return Host(curl)


def test_mi405_passes_when_every_route_answers_through_the_gateway(isolated):
    host = gateway_host({"checkout.apps.example.com": "200", "shop.apps.example.com": "200"})
    ctx = on_host(staging(isolated, "MI405/passed"), host)
    assert run_check("MI405", ctx) == ("passed", GATEWAY, "2 route(s) via 203.0.113.10")
    assert host.commands == [
        "curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Host: checkout.apps.example.com' http://203.0.113.10/",
        "curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Host: shop.apps.example.com' http://203.0.113.10/",
    ]


def test_mi405_fails_on_a_route_that_answers_503(isolated):
    ctx = on_host(
        staging(isolated, "MI405/passed"),
        gateway_host({"checkout.apps.example.com": "200", "shop.apps.example.com": "503"}),
    )
    assert run_check("MI405", ctx) == ("failed", GATEWAY, "no answer from storefront/web (503)")


def test_mi405_is_skipped_where_no_container_runs(isolated):
    why = "simulated cluster has no containers: nothing answers behind the gateway's address"
    assert run_check("MI405", cluster(refused(), spec_path(isolated, "dev"))) == ("skipped", GATEWAY, why)
