"""MI006: the kubeconfig's identity holds every right meshinstall needs for the spec (stacks/program/rbac.py), asked of the
API server with SelfSubjectAccessReviews: first whether it may do anything (a cluster-admin, such as the simulated
cluster's token), and only when not, one (verb, resource) at a time (239 reviews at 10 apps)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ...stacks.cluster import kube
from ..base import Check, Context, Result, Skip, register


@register
class ClusterRights(Check):
    id = "MI006"
    title = "the identity has the rights meshinstall needs"
    phase = "doctor"
    needs_running_cluster = Skip(
        "the simulated cluster is not running; `up` starts it (its admin token has every right)",
        "SelfSubjectAccessReview",
    )

    def inspect(self, ctx: Context) -> Result:
        from ...stacks.program import rbac

        wanted = [pair for rule in rbac.rules(ctx.spec) for pair in rule.pairs()]

        def allowed(pair: tuple[str, str, str]) -> bool:
            group, resource, verb = pair
            review = {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {"group": group, "resource": resource, "verb": verb}},
            }
            answer = kube.request(
                ctx.api, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review
            )
            return bool((answer or {}).get("status", {}).get("allowed"))

        if allowed(("*", "*", "*")):
            return self.passed(
                "SelfSubjectAccessReview",
                f"all {len(wanted)} rights of `meshinstall rbac {ctx.spec.named}`: the identity may do anything",
            )
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(allowed, wanted))
        denied = [
            f"{verb} {resource}{'.' + group if group else ''}"
            for (group, resource, verb), ok in zip(wanted, answers, strict=True)
            if not ok
        ]
        if denied:
            return self.failed(
                "SelfSubjectAccessReview",
                f"not allowed ({len(denied)} of {len(wanted)}): " + ", ".join(denied),
                f"grant the ClusterRole `meshinstall rbac {ctx.spec.named}` prints (docs/rbac.md says why each rule is there), or use a context that has it",
            )
        return self.passed(
            "SelfSubjectAccessReview", f"all {len(wanted)} rights of `meshinstall rbac {ctx.spec.named}`"
        )
