"""MI202: the mesh-wide PeerAuthentication has the spec's mTLS mode."""

from __future__ import annotations

from ...components import ISTIO_NAMESPACE
from ...components.manifests.sidecars import peer_authentication_spec
from ..base import Check, Context, Result, register


@register
class PeerAuthenticationMode(Check):
    id = "MI202"
    mesh = "istio"
    title = "mesh-wide mTLS has the spec's mode"
    phase = "verify"

    def inspect(self, ctx: Context) -> Result:
        target = f"peerauthentication/{ISTIO_NAMESPACE}/default .spec.mtls.mode"
        wanted = peer_authentication_spec(ctx.spec.mesh.mtls)["mtls"]["mode"]
        live = ctx.custom_object("security.istio.io", ISTIO_NAMESPACE, "peerauthentications", "default")
        if live is None:
            return self.failed(target, "the PeerAuthentication does not exist", "run `meshinstall up`")
        mode = live.get("spec", {}).get("mtls", {}).get("mode")
        if mode != wanted:
            return self.failed(target, f"is {mode}, the spec says {wanted}", "run `meshinstall up` to restore it")
        return self.passed(target, wanted)
