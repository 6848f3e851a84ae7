"""checks/base.py: what verify's checks read, as JSON, once per namespace and kind."""

from __future__ import annotations

from fake_api import Answers, always, context

from meshinstall.checks import load_all, runner
from meshinstall.checks.base import Status
from meshinstall.checks.control_plane.mi102_injection_webhook import InjectionWebhook

APPS = "/apis/networking.istio.io/v1/namespaces/shop/virtualservices"


def test_the_apps_of_a_namespace_cost_one_list_per_kind():
    api = Answers({APPS: always(200, {"items": [{"metadata": {"name": f"app-{i}"}} for i in range(10)]})})
    ctx = context(api)
    found = [ctx.custom_object("networking.istio.io", "shop", "virtualservices", f"app-{i}") for i in range(11)]
    assert [f is not None for f in found] == [True] * 10 + [False]
    assert [sent[:2] for sent in api.sent] == [("GET", APPS)]


def test_a_kind_the_cluster_does_not_serve_has_no_objects():
    api = Answers(
        {"/apis/monitoring.coreos.com/v1/namespaces/shop/prometheusrules": always(404, {"reason": "NotFound"})}
    )
    assert context(api).custom_object("monitoring.coreos.com", "shop", "prometheusrules", "app-0-alerts") is None


def webhook_cluster(namespace_labels: dict[str, str], ready: bool) -> Answers:
    """istiod's injection webhook as the chart makes it (a namespace-wide hook that pods can opt out of, and one that
    pods opt into), its Service's endpoints, and every namespace with `namespace_labels`."""
    namespace_wide = {
        "name": "namespace.sidecar-injector.istio.io",
        "clientConfig": {"service": {"name": "istiod", "namespace": "istio-system"}},
        "namespaceSelector": {
            "matchExpressions": [{"key": "istio-injection", "operator": "In", "values": ["enabled"]}]
        },
        "objectSelector": {
            "matchExpressions": [{"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}]
        },
    }
    opt_in = {
        "name": "object.sidecar-injector.istio.io",
        "clientConfig": {"service": {"name": "istiod", "namespace": "istio-system"}},
        "namespaceSelector": {},
        "objectSelector": {"matchLabels": {"sidecar.istio.io/inject": "true"}},
    }
    answers = {
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/istio-sidecar-injector": always(
            200, {"webhooks": [namespace_wide, opt_in]}
        ),
        "/apis/discovery.k8s.io/v1/namespaces/istio-system/endpointslices": always(
            200,
            {
                "items": [
                    {
                        "metadata": {"name": "istiod-x", "labels": {"kubernetes.io/service-name": "istiod"}},
                        "endpoints": [{"conditions": {"ready": ready}}],
                    }
                ]
            },
        ),
    }
    return Answers(answers, default=always(200, {"metadata": {"name": "ns", "labels": namespace_labels}}))


def test_the_injection_webhook_must_select_each_team_namespace_by_its_labels(isolated):
    spec_path = isolated / "environments" / "dev.yaml"
    passed = InjectionWebhook().run(context(webhook_cluster({"istio-injection": "enabled"}, ready=True), spec_path))
    assert passed.status is Status.PASSED, passed
    unlabelled = InjectionWebhook().run(context(webhook_cluster({}, ready=True), spec_path))
    assert unlabelled.status is Status.FAILED and unlabelled.message.startswith("does not select namespaces "), (
        unlabelled
    )
    not_ready = InjectionWebhook().run(context(webhook_cluster({"istio-injection": "enabled"}, ready=False), spec_path))
    assert not_ready.status is Status.FAILED and not_ready.message == "the Service has no ready endpoints"


def test_doctor_on_an_unreachable_cluster_still_runs_the_checks_that_do_not_read_it(isolated, monkeypatch):
    """The checks that do not read the cluster run in threads beside those that do (checks/runner.py); the results
    still come in id order, and once MI005 finds no cluster, the other cluster checks are skipped for it."""
    monkeypatch.setenv("MESHINSTALL_PASSPHRASE", "unit")
    ctx = context(
        Answers({}, default=always(503, {"reason": "ServiceUnavailable"})), isolated / "environments" / "staging.yaml"
    )
    report = runner.run("doctor", ctx)
    ids = [r.check_id for r in report.results]
    assert ids == sorted(ids) and len(ids) == len([c for c in load_all().values() if c.phase == "doctor"])
    by_id = {r.check_id: r for r in report.results}
    assert by_id["MI005"].status is Status.FAILED and by_id["MI005"].message.startswith("no answer: ApiError: (503)")
    for check_id, check in load_all().items():
        if check.phase == "doctor" and check_id != "MI005":
            unreachable = by_id[check_id].message == "the cluster is unreachable (MI005)"
            assert unreachable == check.needs_cluster, by_id[check_id]
    assert by_id["MI001"].status is Status.PASSED
    assert by_id["MI002"].status is Status.FAILED and "CHECKOUT_DB_PASSWORD is not set" in by_id["MI002"].message
