"""The Linkerd control plane: its namespaces, the identity meshinstall holds (trust roots and issuer), then the
official `linkerd-crds` -> `linkerd2-cni` -> `linkerd-control-plane` -> `linkerd-viz` charts, and Envoy Gateway with
the GatewayClass whose proxies are meshed."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from . import SHARED_GATEWAY, metadata
from .charts import helm_release
from .manifests import linkerd
from .manifests.linkerd import LinkerdArgs


class LinkerdControlPlane(pulumi.ComponentResource):
    """Linkerd's namespaces and identity first, then its charts each waiting for the last; Envoy Gateway beside."""

    ready: list[pulumi.Resource]
    gateway_address: pulumi.Output[str]

    def __init__(self, name: str, args: LinkerdArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("meshinstall:components:LinkerdControlPlane", name, None, opts)
        cni = args.cni is not None
        home = self._namespace(linkerd.LINKERD_NAMESPACE, cni)
        crds = helm_release(args.crds, self, [home, *args.after])
        before: list[pulumi.Resource] = [crds, *self._identity(args, home)]
        if args.cni:
            before.append(helm_release(args.cni, self, [crds, self._namespace(linkerd.LINKERD_CNI_NAMESPACE, cni)]))
        control_plane = helm_release(args.control_plane, self, before)
        self.ready = [control_plane]
        if args.viz:
            viz_home = self._namespace(linkerd.LINKERD_VIZ_NAMESPACE, cni)
            self.ready.append(helm_release(args.viz, self, [control_plane, viz_home]))
        self.gateway_address = pulumi.Output.from_input("")
        if args.gateway:
            self.ready.append(self._envoy_gateway(args, control_plane))
            self.gateway_address = pulumi.Output.from_input(
                f"{SHARED_GATEWAY}.{linkerd.ENVOY_GATEWAY_NAMESPACE} (Envoy Gateway)"
            )
        self.register_outputs({"gateway_address": self.gateway_address})

    def _namespace(self, name: str, cni: bool) -> k8s.core.v1.Namespace:
        return k8s.core.v1.Namespace(
            name,
            metadata=metadata(name, None, linkerd.namespace_labels(name, cni), linkerd.namespace_annotations(name)),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _identity(self, args: LinkerdArgs, home: pulumi.Resource) -> list[pulumi.Resource]:
        """The trust roots every proxy trusts, and the issuer's Secret (unless cert-manager writes it)."""
        child = pulumi.ResourceOptions(parent=self, depends_on=[home])
        made: list[pulumi.Resource] = [
            k8s.core.v1.ConfigMap(
                "linkerd-trust-roots",
                metadata=metadata(linkerd.TRUST_ROOTS, linkerd.LINKERD_NAMESPACE),
                data={"ca-bundle.crt": args.trust_bundle},
                opts=child,
            )
        ]
        if args.issuer:
            certificate, key = args.issuer
            made.append(
                k8s.core.v1.Secret(
                    "linkerd-identity-issuer",
                    metadata=metadata(linkerd.ISSUER_SECRET, linkerd.LINKERD_NAMESPACE),
                    type="kubernetes.io/tls",
                    string_data={
                        "tls.crt": certificate,
                        "tls.key": pulumi.Output.secret(key),
                        "ca.crt": args.trust_bundle,
                    },
                    opts=child,
                )
            )
        return made

    def _envoy_gateway(self, args: LinkerdArgs, control_plane: pulumi.Resource) -> pulumi.Resource:
        """Envoy Gateway's chart, then the EnvoyProxy (its CRD comes with the chart) and the GatewayClass using it."""
        assert args.gateway is not None
        home = self._namespace(linkerd.ENVOY_GATEWAY_NAMESPACE, args.cni is not None)
        chart = helm_release(args.gateway, self, [home, *args.after])
        after = pulumi.ResourceOptions(parent=self, depends_on=[chart, control_plane])
        proxy = k8s.apiextensions.CustomResource(
            "envoy-proxy",
            api_version="gateway.envoyproxy.io/v1alpha1",
            kind="EnvoyProxy",
            metadata=metadata(linkerd.GATEWAY_CLASS, linkerd.ENVOY_GATEWAY_NAMESPACE),
            spec=linkerd.envoy_proxy_spec(args.ingress_replicas, args.ingress_service_type, args.registry),
            opts=after,
        )
        return k8s.apiextensions.CustomResource(
            "gateway-class",
            api_version="gateway.networking.k8s.io/v1",
            kind="GatewayClass",
            metadata=metadata(linkerd.GATEWAY_CLASS),
            spec=linkerd.gateway_class_spec(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[chart, proxy]),
        )
