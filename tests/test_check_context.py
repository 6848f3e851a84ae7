"""checks/base.py: what verify's checks read, as JSON, once per namespace and kind."""

from __future__ import annotations

from meshinstall.checks.base import Status
from meshinstall.checks.control_plane.mi102_injection_webhook import InjectionWebhook

from fake_api import Answers, always, context

APPS = "/apis/networking.istio.io/v1/namespaces/shop/virtualservices"


def test_the_apps_of_a_namespace_cost_one_list_per_kind():
    api = Answers({APPS: always(200, {"items": [{"metadata": {"name": f"app-{i}"}} for i in range(10)]})})
    ctx = context(api)
    found = [ctx.custom_object("networking.istio.io", "shop", "virtualservices", f"app-{i}") for i in range(11)]
    assert [f is not None for f in found] == [True] * 10 + [False]
    assert [sent[:2] for sent in api.sent] == [("GET", APPS)]


def test_a_kind_the_cluster_does_not_serve_has_no_objects():
    api = Answers({"/apis/monitoring.coreos.com/v1/namespaces/shop/prometheusrules": always(404, {"reason": "NotFound"})})
    assert context(api).custom_object("monitoring.coreos.com", "shop", "prometheusrules", "app-0-alerts") is None


def webhook_cluster(namespace_labels: dict[str, str], ready: bool) -> Answers:
    """istiod's injection webhook as the chart makes it (a namespace-wide hook that pods can opt out of, and one that
    pods opt into), its Service's endpoints, and every namespace with `namespace_labels`."""
    namespace_wide = {"name": "namespace.sidecar-injector.istio.io", "clientConfig": {"service": {"name": "istiod", "namespace": "istio-system"}},
                      "namespaceSelector": {"matchExpressions": [{"key": "istio-injection", "operator": "In", "values": ["enabled"]}]},
                      "objectSelector": {"matchExpressions": [{"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}]}}
    opt_in = {"name": "object.sidecar-injector.istio.io", "clientConfig": {"service": {"name": "istiod", "namespace": "istio-system"}},
              "namespaceSelector": {}, "objectSelector": {"matchLabels": {"sidecar.istio.io/inject": "true"}}}
    answers = {"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/istio-sidecar-injector": always(200, {"webhooks": [namespace_wide, opt_in]}),
               "/apis/discovery.k8s.io/v1/namespaces/istio-system/endpointslices": always(200, {"items": [
                   {"metadata": {"name": "istiod-x", "labels": {"kubernetes.io/service-name": "istiod"}}, "endpoints": [{"conditions": {"ready": ready}}]}]})}
    return Answers(answers, default=always(200, {"metadata": {"name": "ns", "labels": namespace_labels}}))


def test_the_injection_webhook_must_select_each_team_namespace_by_its_labels(isolated):
    spec_path = isolated / "environments" / "dev.yaml"
    passed = InjectionWebhook().run(context(webhook_cluster({"istio-injection": "enabled"}, ready=True), spec_path))
    assert passed.status is Status.PASSED, passed
    unlabelled = InjectionWebhook().run(context(webhook_cluster({}, ready=True), spec_path))
    assert unlabelled.status is Status.FAILED and unlabelled.message.startswith("does not select namespaces "), unlabelled
    not_ready = InjectionWebhook().run(context(webhook_cluster({"istio-injection": "enabled"}, ready=False), spec_path))
    assert not_ready.status is Status.FAILED and not_ready.message == "the Service has no ready endpoints"
