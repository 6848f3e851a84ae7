"""MI111: Linkerd's control plane (destination, identity, proxy-injector) is available and its injector webhook
selects the team namespaces (`linkerd check`: linkerd-control-plane, linkerd-webhooks-and-apisvc-tls)."""

from __future__ import annotations

from ...components.manifests.linkerd import CONTROL_PLANE_DEPLOYMENTS, INJECT, INJECTOR_WEBHOOK, LINKERD_NAMESPACE
from ..base import Check, Context, Result, register
from ..probes import available

OPT_OUT = "config.linkerd.io/admission-webhooks"  # the injector's namespaceSelector skips namespaces labelled disabled


@register
class LinkerdControlPlane(Check):
    id = "MI111"
    mesh = "linkerd"
    title = "Linkerd's control plane is available and its injector selects the team namespaces"
    phase = "verify"

    def inspect(self, ctx: Context) -> Result:
        targets = ", ".join(f"deployment/{LINKERD_NAMESPACE}/{name}" for name in CONTROL_PLANE_DEPLOYMENTS)
        short = [name for name in CONTROL_PLANE_DEPLOYMENTS if available(ctx, LINKERD_NAMESPACE, name) < 1]
        if short:
            return self.failed(
                targets,
                "not available: " + ", ".join(short),
                "kubectl -n linkerd describe deployment; check the linkerd-control-plane release and MI014",
            )
        hook = ctx.get(f"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{INJECTOR_WEBHOOK}")
        target = f"mutatingwebhookconfiguration/{INJECTOR_WEBHOOK}"
        if hook is None:
            return self.failed(
                target, "does not exist", "the linkerd-control-plane release installs it: run `meshinstall up`"
            )
        unselected = []
        for team in ctx.spec.paas.teams:
            for ns in team.namespaces:
                meta = (ctx.get(f"/api/v1/namespaces/{ns}") or {}).get("metadata") or {}
                if (meta.get("labels") or {}).get(OPT_OUT) == "disabled":
                    unselected.append(f"{ns} (labelled {OPT_OUT}=disabled)")
                elif (meta.get("annotations") or {}).get(INJECT) != "enabled":
                    unselected.append(f"{ns} (no {INJECT}: enabled)")
        if unselected:
            return self.failed(
                target, "does not inject " + ", ".join(unselected), "run `meshinstall up` to restore them"
            )
        return self.passed(f"{targets}, {target}")
