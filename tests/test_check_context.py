"""checks/base.py: what checks read, read once per namespace and kind."""

from __future__ import annotations

from pathlib import Path

from kubernetes.client.rest import ApiException

from meshinstall.checks.base import Context


class Custom:
    """A CustomObjectsApi holding objects by (group, namespace, plural); counts its LISTs."""

    def __init__(self, objects: dict[tuple[str, str, str], list[str]]) -> None:
        self.objects, self.lists = objects, 0

    def list_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str) -> dict:
        self.lists += 1
        if (group, namespace, plural) not in self.objects:
            raise ApiException(status=404, reason="Not Found")
        return {"items": [{"metadata": {"name": n}} for n in self.objects[(group, namespace, plural)]]}


def context(api: Custom) -> Context:
    ctx = Context(None, Path("dev.yaml"))
    ctx.custom = lambda: api  # type: ignore[method-assign]
    return ctx


def test_the_apps_of_a_namespace_cost_one_list_per_kind():
    api = Custom({("networking.istio.io", "shop", "virtualservices"): [f"app-{i}" for i in range(10)]})
    ctx = context(api)
    found = [ctx.custom_object("networking.istio.io", "shop", "virtualservices", f"app-{i}") for i in range(11)]
    assert [f is not None for f in found] == [True] * 10 + [False]
    assert api.lists == 1


def test_a_kind_the_cluster_does_not_serve_has_no_objects():
    api = Custom({})
    assert context(api).custom_object("monitoring.coreos.com", "shop", "prometheusrules", "app-0-alerts") is None
