"""MI102: the sidecar-injection webhook exists, its Service has ready endpoints, and it selects the team namespaces."""

from __future__ import annotations

from ...components import ISTIO_NAMESPACE
from ...components.manifests.sidecars import injection_labels
from ..base import Check, Context, Result, register
from ..probes import ready_endpoints


@register
class InjectionWebhook(Check):
    id = "MI102"
    mesh = "istio"
    title = "the injection webhook is served and selects the team namespaces"
    phase = "verify"

    def inspect(self, ctx: Context) -> Result:
        results = [self._revision(ctx, revision) for revision in ctx.layout.revisions]
        failed = [r for r in results if r.status.value != "passed"]
        return failed[0] if failed else self.passed("; ".join(r.target for r in results))

    def _revision(self, ctx: Context, revision_of: object) -> Result:
        """One revision's webhook, served, selecting the namespaces of the teams on that revision."""
        revision = revision_of.value or None
        name = f"istio-sidecar-injector-{revision}" if revision else "istio-sidecar-injector"
        target = f"mutatingwebhookconfiguration/{name}"
        hook = ctx.get(f"/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/{name}")
        if hook is None:
            return self.failed(target, "does not exist", "istiod installs it: check MI101 and the istiod release")
        webhooks = hook.get("webhooks") or []
        services = {
            (service.get("namespace") or ISTIO_NAMESPACE, service["name"])
            for w in webhooks
            if (service := w["clientConfig"].get("service"))
        }
        if not services:
            return self.failed(target, "does not point at a Service", "reinstall istiod")
        for namespace, name in sorted(services):
            if not ready_endpoints(ctx, namespace, name):
                return self.failed(
                    f"{target} -> service/{namespace}/{name}",
                    "the Service has no ready endpoints",
                    "istiod is not ready: see MI101",
                )
        # webhooks whose objectSelector asks for a pod label inject only pods that opt in; the namespace-wide ones
        # (no objectSelector, or only opt-outs such as sidecar.istio.io/inject NotIn [false]) must select the teams
        by_namespace = [w for w in webhooks if not _needs_pod_opt_in(w.get("objectSelector"))]
        label = ", ".join(f"{k}={v}" for k, v in injection_labels(revision).items())
        missing = [
            ns
            for team in ctx.spec.paas.teams
            for ns in team.namespaces
            if ctx.layout.team_revision(team.name) == revision_of
            and not any(_selects(w.get("namespaceSelector"), _namespace_labels(ctx, ns)) for w in by_namespace)
        ]
        if missing:
            return self.failed(
                target,
                f"does not select namespaces {', '.join(missing)}",
                f"label them {label} (meshinstall up does) or check the webhook's namespaceSelector",
            )
        return self.passed(target + " -> " + ", ".join(f"service/{ns}/{n}" for ns, n in sorted(services)))


def _needs_pod_opt_in(selector) -> bool:
    """Whether an objectSelector selects only pods carrying some label (matchLabels, In or Exists)."""
    if not selector:
        return False
    return bool(selector.get("matchLabels")) or any(
        e["operator"] in ("In", "Exists") for e in selector.get("matchExpressions") or []
    )


def _namespace_labels(ctx: Context, name: str) -> dict[str, str]:
    namespace = ctx.get(f"/api/v1/namespaces/{name}")
    return (namespace["metadata"].get("labels") or {}) if namespace else {}


def _selects(selector, labels: dict[str, str]) -> bool:
    """Whether a LabelSelector matches `labels` (matchLabels and the four matchExpressions operators)."""
    if selector is None:
        return True
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        present, value, values = expr["key"] in labels, labels.get(expr["key"]), expr.get("values") or []
        ok = {
            "In": present and value in values,
            "NotIn": not present or value not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[expr["operator"]]
        if not ok:
            return False
    return True
