"""Sidecar injection and mesh-wide policy: injection labels, PeerAuthentication, default Sidecar."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from . import ISTIO_NAMESPACE, metadata
from .manifests.sidecars import SidecarsArgs, default_sidecar_spec, peer_authentication_spec


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
