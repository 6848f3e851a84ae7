"""Sidecar injection and mesh-wide policy: injection labels, PeerAuthentication, default Sidecar."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from . import INGRESS_NAMESPACE, ISTIO_NAMESPACE, MONITORING_NAMESPACE, metadata


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


class Sidecars(pulumi.ComponentResource):
    """The mesh-wide PeerAuthentication and default Sidecar in the Istio root namespace."""

    def __init__(self, name: str, args: SidecarsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("meshinstall:components:Sidecars", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.after))
        meta = metadata("default", ISTIO_NAMESPACE)
        self.peer_authentication = k8s.apiextensions.CustomResource(
            "mesh-peer-authentication",
            api_version="security.istio.io/v1",
            kind="PeerAuthentication",
            metadata=meta,
            spec=peer_authentication_spec(args.mtls),
            opts=child,
        )
        self.default_sidecar = k8s.apiextensions.CustomResource(
            "mesh-default-sidecar",
            api_version="networking.istio.io/v1",
            kind="Sidecar",
            metadata=meta,
            spec=default_sidecar_spec(args),
            opts=child,
        )
        self.register_outputs({})
