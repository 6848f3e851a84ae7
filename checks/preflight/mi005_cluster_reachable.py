"""MI005: the cluster answers with the environment's kubeconfig."""

from __future__ import annotations

from ...stacks.cluster import kube
from ..base import Check, Context, Result, Skip, Status, register


@register
class ClusterReachable(Check):
    id = "MI005"
    title = "the cluster is reachable"
    phase = "doctor"
    gates = ("verify",)  # verify first makes sure there is a cluster to look at
    fatal = Skip("the cluster is unreachable (MI005)")  # the cluster checks after it are skipped

    def inspect(self, ctx: Context) -> Result:
        path, context = ctx.kubeconfig
        if ctx.simulated:
            plane = ctx.local_cluster
            before_install = ctx.phase == "doctor"
            if not plane.created():
                if before_install:
                    return self.skipped(path, "the simulated cluster does not exist yet; `up` creates it")
                return self.failed(
                    path, "the simulated cluster does not exist", f"run `meshinstall up {ctx.spec.named}`"
                )
            if ctx.cluster_not_running:
                status = Status.WARNING if before_install else Status.FAILED
                return self.result(
                    status, path, "the simulated cluster is stopped", "the next `up` or `refresh` restarts it"
                )
        try:
            version = kube.get(ctx.api, "/version")
        except Exception as err:  # noqa: BLE001 (any way of not answering is this check's failure)
            return self.failed(
                path,
                f"no answer: {type(err).__name__}: {str(err)[:200]}",
                "check the kubeconfig, the context and the network path to the API server",
            )
        return self.passed(
            f"{path}" + (f" (context {context})" if context else ""), f"Kubernetes {version['gitVersion']}"
        )
