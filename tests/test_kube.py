"""stacks/kube.py: the Kubernetes API read as JSON, as doctor's checks and the recovery before the engine use it."""

from __future__ import annotations

from typing import Any

from meshinstall.checks.base import Context, Status
from meshinstall.checks.preflight.mi006_rights import ClusterRights
from meshinstall.checks.preflight.mi009_capacity import Capacity
from meshinstall.stacks import kube

from fake_api import Answers, always, context


def staging(isolated: Any, api: Answers) -> Context:
    """A check context on the staging environment (an existing cluster) whose API server is `api`."""
    return context(api, isolated / "environments" / "staging.yaml")


def test_a_kind_with_no_objects_lists_as_empty():
    """The API server answers an empty metadata-only list with "items": null (doctor's MI008 on a cluster without
    any CRD failed on it)."""
    api = Answers({"/apis/apiextensions.k8s.io/v1/customresourcedefinitions": always(200, {"kind": "PartialObjectMetadataList", "items": None}),
                   "/api/v1/namespaces/istio-system/secrets": always(200, {"items": [{"metadata": {"name": "a"}}]})})
    assert kube.list_metadata(api, "apiextensions.k8s.io/v1", "customresourcedefinitions") == []
    assert kube.list_metadata(api, "v1", "secrets", "owner=helm", "istio-system") == [{"metadata": {"name": "a"}}]
    assert api.sent[1][2:] == ({"labelSelector": "owner=helm"}, kube.METADATA_LIST)


def test_a_missing_object_reads_as_none_and_a_refusal_fails_the_check_with_the_api_servers_answer(isolated):
    api = Answers({"/api/v1/nodes/gone": always(404, {"reason": "NotFound"}), "/api/v1/nodes": always(403, {"reason": "Forbidden"})})
    assert kube.get(api, "/api/v1/nodes/gone") is None
    result = Capacity().run(staging(isolated, api))
    assert result.status is Status.FAILED and result.message == "the API server answered 403 Forbidden"


def test_capacity_adds_up_the_nodes_allocatable(isolated):
    node = {"status": {"allocatable": {"cpu": "500m", "memory": "1Gi"}}}
    result = Capacity().run(staging(isolated, Answers({"/api/v1/nodes": always(200, {"items": [node, node]})})))
    assert result.status is Status.FAILED and result.target == "2 nodes' allocatable"
    assert result.message.endswith(", has 1 and 2Gi"), result.message


def _reviews(denied: set[tuple[str, str]]) -> Answers:
    """An API server that allows every (resource, verb) but `denied`, and anything (`*`, `*`) when nothing is denied."""
    def review(method: str, body: dict) -> tuple[int, dict]:
        asked = body["spec"]["resourceAttributes"]
        assert method == "POST" and body["kind"] == "SelfSubjectAccessReview"
        wildcard = asked["resource"] == "*" and asked["verb"] == "*"
        return 201, {"status": {"allowed": not denied if wildcard else (asked["resource"], asked["verb"]) not in denied}}

    return Answers({"/apis/authorization.k8s.io/v1/selfsubjectaccessreviews": review})


def test_rights_names_each_one_the_api_server_denies(isolated):
    result = ClusterRights().run(staging(isolated, _reviews({("customresourcedefinitions", "delete")})))
    assert result.status is Status.FAILED
    assert "not allowed (1 of " in result.message and result.message.endswith(": delete customresourcedefinitions.apiextensions.k8s.io"), result.message


def test_rights_of_an_identity_that_may_do_anything_take_one_review(isolated):
    api = _reviews(set())
    result = ClusterRights().run(staging(isolated, api))
    assert result.status is Status.PASSED and result.message.endswith("the identity may do anything"), result.message
    assert len(api.sent) == 1
