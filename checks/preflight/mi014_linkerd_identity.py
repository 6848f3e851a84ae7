"""MI014: Linkerd's identity: the issuer in the cluster is signed by a trust anchor the control plane trusts, and
neither expires within `mesh.identity.warnDays` (`linkerd check`: linkerd-identity)."""

from __future__ import annotations

import base64

from ...components.manifests.linkerd import ISSUER_SECRET, LINKERD_NAMESPACE, TRUST_ROOTS
from ..base import Check, Context, Result, Skip, Status, register


@register
class LinkerdIdentity(Check):
    id = "MI014"
    mesh = "linkerd"
    title = "Linkerd's trust anchor and issuer are valid, chained and not about to expire"
    phase = "doctor"
    needs_running_cluster = Skip("the simulated cluster is not running; `up` starts it", "linkerd identity")

    def inspect(self, ctx: Context) -> Result:
        from ...stacks.program import identity

        roots = ctx.get(f"/api/v1/namespaces/{LINKERD_NAMESPACE}/configmaps/{TRUST_ROOTS}")
        secret = ctx.get(f"/api/v1/namespaces/{LINKERD_NAMESPACE}/secrets/{ISSUER_SECRET}")
        target = f"configmap/{LINKERD_NAMESPACE}/{TRUST_ROOTS}, secret/{LINKERD_NAMESPACE}/{ISSUER_SECRET}"
        if roots is None and secret is None:
            return self.skipped(target, "Linkerd is not installed yet; `up` installs its identity")
        bundle = ((roots or {}).get("data") or {}).get("ca-bundle.crt", "")
        issued = base64.b64decode(((secret or {}).get("data") or {}).get("tls.crt", "")).decode()
        if not bundle or not issued:
            missing = "the trust roots" if not bundle else "the issuer's certificate"
            return self.failed(
                target, f"{missing} missing", "run `meshinstall up` (or check cert-manager's Certificate)"
            )
        if not identity.signed_by(issued, bundle):
            return self.failed(
                target,
                "the issuer is not signed by a trust anchor the control plane trusts, or one has expired",
                f"run `meshinstall certs rotate {ctx.spec.named}`",
            )
        left = {"trust anchor": identity.days_left(bundle), "issuer": identity.days_left(issued)}
        summary = "; ".join(f"{name} expires in {days} days" for name, days in left.items())
        soon = [name for name, days in left.items() if days < ctx.spec.mesh.identity.warn_days]
        if soon:
            flag = " --anchor" if "trust anchor" in soon else ""
            return self.result(
                Status.WARNING,
                target,
                f"{summary}: within {ctx.spec.mesh.identity.warn_days} days",
                f"run `meshinstall certs rotate {ctx.spec.named}{flag}`",
            )
        return self.passed(target, summary)
