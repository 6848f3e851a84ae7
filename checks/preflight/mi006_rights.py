"""MI006: the kubeconfig's identity may create the cluster-scoped kinds meshinstall installs."""

from __future__ import annotations

from ..base import Check, Context, Result, register

# (group, resource) of the cluster-scoped objects meshinstall and its charts create
CLUSTER_SCOPED = [
    ("", "namespaces"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
]


@register
class ClusterRights(Check):
    id = "MI006"
    title = "the identity has the rights meshinstall needs"
    phase = "doctor"

    def inspect(self, ctx: Context) -> Result:
        from kubernetes import client

        if ctx.cluster_not_running():
            return self.skipped("SelfSubjectAccessReview", "the simulated cluster is not running; `up` starts it (its admin token has every right)")
        auth = client.AuthorizationV1Api(ctx.api)
        denied = []
        for group, resource in CLUSTER_SCOPED:
            review = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(group=group, resource=resource, verb="create")))
            if not auth.create_self_subject_access_review(review).status.allowed:
                denied.append(f"create {resource}{'.' + group if group else ''}")
        if denied:
            return self.failed("SelfSubjectAccessReview", "not allowed: " + ", ".join(denied), "use a kubeconfig context with cluster-admin rights for installing the platform")
        return self.passed("SelfSubjectAccessReview", f"{len(CLUSTER_SCOPED)} cluster-scoped kinds may be created")
