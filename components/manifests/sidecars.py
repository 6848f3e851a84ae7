"""What sidecar injection and mesh-wide policy look like: injection labels, PeerAuthentication, default Sidecar."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import INGRESS_NAMESPACE, ISTIO_NAMESPACE, MONITORING_NAMESPACE

if TYPE_CHECKING:
    import pulumi


@dataclass(frozen=True)
class SidecarsArgs:
    """Mesh-wide sidecar policy: mTLS mode, outbound policy and the namespaces that form the mesh."""

    mtls: str
    outbound_traffic_policy: str
    mesh_namespaces: tuple[str, ...]
    after: tuple[pulumi.Resource, ...] = ()  # istiod and the Istio CRDs


def injection_labels(revision: str | None) -> dict[str, str]:
    """Namespace labels that turn on sidecar injection (revision-based when a revision is set)."""
    return {"istio.io/rev": revision} if revision else {"istio-injection": "enabled"}


def peer_authentication_spec(mtls: str) -> dict[str, Any]:
    """Mesh-wide PeerAuthentication spec."""
    return {"mtls": {"mode": mtls.upper()}}


def default_sidecar_spec(args: SidecarsArgs) -> dict[str, Any]:
    """Mesh-wide default Sidecar: proxies only learn about, and only reach, the mesh's namespaces."""
    namespaces = sorted({ISTIO_NAMESPACE, INGRESS_NAMESPACE, MONITORING_NAMESPACE, *args.mesh_namespaces})
    return {
        "egress": [{"hosts": ["./*", *(f"{ns}/*" for ns in namespaces)]}],
        "outboundTrafficPolicy": {"mode": args.outbound_traffic_policy},
    }
