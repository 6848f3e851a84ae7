"""One app onboarded into the mesh: ServiceAccount, Deployments (stable and canary), Service, traffic policy."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from . import SHARED_GATEWAY, SKIP_AWAIT, TEAM_LABEL, labels, metadata
from .manifests import linkerd
from .manifests.app import (
    AppArgs,
    authorization_spec,
    deployment_spec,
    destination_rule_spec,
    service_ports,
    virtual_service_spec,
)


def service_annotations(args: AppArgs) -> dict[str, str]:
    """A Service is not awaited (below); with Linkerd, it carries the circuit breaker (failure accrual)."""
    return {**SKIP_AWAIT, **(linkerd.failure_accrual_annotations(args) if args.mesh == "linkerd" else {})}


class AppDeployment(pulumi.ComponentResource):
    """Everything one app needs to run in the mesh."""

    def __init__(self, name: str, args: AppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("meshinstall:components:App", name, None, opts)
        ns = args.namespace
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.after))

        def meta(object_name: str, **extra: str) -> k8s.meta.v1.ObjectMetaArgs:
            return metadata(object_name, ns, labels(app=args.name, **{TEAM_LABEL: args.team}, **extra))

        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=meta(args.name),
            automount_service_account_token=args.automount_service_account_token,
            opts=child,
        )
        after = [*args.after, self.service_account]
        if args.secret_env:
            secret = k8s.core.v1.Secret(
                f"{name}-env",
                metadata=meta(f"{args.name}-env"),
                string_data={k: pulumi.Output.secret(v) for k, v in args.secret_values.items()},
                opts=child,
            )
            after.append(secret)
        deps = pulumi.ResourceOptions(parent=self, depends_on=after)
        self.deployments = [
            k8s.apps.v1.Deployment(
                f"{name}-stable",
                metadata=meta(args.name, version="stable"),
                spec=deployment_spec(args, "stable", args.image, args.replicas),
                opts=deps,
            )
        ]
        if args.traffic.canary:
            canary = args.traffic.canary
            self.deployments.append(
                k8s.apps.v1.Deployment(
                    f"{name}-canary",
                    metadata=meta(f"{args.name}-canary", version="canary"),
                    spec=deployment_spec(args, "canary", canary.image, canary.replicas),
                    opts=deps,
                )
            )
        if args.service_ports:  # a Score workload without ports (a worker) has no Service and no traffic policy
            self._service(name, args, meta, child)
        self.register_outputs({})

    def _service(self, name: str, args: AppArgs, meta: Any, child: pulumi.ResourceOptions) -> None:
        # Not awaited: the engine's Service awaiter holds a slot for 10 s after each change of the Endpoints ("to
        # settle"), so at 100 apps the Services filled the engine's window and held the Deployments back. The
        # Service is ready when its Deployment's pods are, and the Deployment is awaited.
        self.service = k8s.core.v1.Service(
            f"{name}-svc",
            metadata=metadata(
                args.name, args.namespace, labels(app=args.name, **{TEAM_LABEL: args.team}), service_annotations(args)
            ),
            spec={"selector": {"app": args.name}, "ports": service_ports(args)},
            opts=child,
        )
        if args.mesh == "linkerd":
            self._linkerd(name, args, meta, child)
            return
        self.destination_rule = self._istio(
            name, "DestinationRule", "networking.istio.io/v1", meta(args.name), destination_rule_spec(args), child
        )
        self.virtual_service = self._istio(
            name, "VirtualService", "networking.istio.io/v1", meta(args.name), virtual_service_spec(args), child
        )
        policy = authorization_spec(args)
        if policy:
            self._istio(name, "AuthorizationPolicy", "security.istio.io/v1", meta(f"allow-{args.name}"), policy, child)

    def _linkerd(self, name: str, args: AppArgs, meta: Any, child: pulumi.ResourceOptions) -> None:
        """Linkerd's terms for the same policy: the versions' Services and an HTTPRoute on the app's Service (canary,
        timeout, retries), a Server with the callers' MeshTLSAuthentication, the route on the shared Gateway."""
        if args.traffic.canary:
            for version in ("stable", "canary"):
                k8s.core.v1.Service(
                    f"{name}-svc-{version}",
                    metadata=metadata(
                        f"{args.name}-{version}",
                        args.namespace,
                        labels(app=args.name, **{TEAM_LABEL: args.team}),
                        service_annotations(args),
                    ),
                    spec=linkerd.version_service_spec(args, version),
                    opts=child,
                )
        routes = "gateway.networking.k8s.io/v1"
        route_meta = metadata(
            args.name,
            args.namespace,
            labels(app=args.name, **{TEAM_LABEL: args.team}),
            linkerd.route_annotations(args),
        )
        self._istio(name, "HTTPRoute", routes, route_meta, linkerd.mesh_route_spec(args), child)
        self._istio(name, "Server", "policy.linkerd.io/v1beta3", meta(args.name), linkerd.server_spec(args), child)
        authentication = linkerd.authentication_spec(args)
        if authentication:
            self._istio(
                name,
                "MeshTLSAuthentication",
                "policy.linkerd.io/v1alpha1",
                meta(f"{args.name}-callers"),
                authentication,
                child,
            )
            self._istio(
                name,
                "AuthorizationPolicy",
                "policy.linkerd.io/v1alpha1",
                meta(f"allow-{args.name}"),
                linkerd.authorization_policy_spec(args),
                child,
            )
        if args.route:
            ingress = linkerd.ingress_route_spec(args, linkerd.ENVOY_GATEWAY_NAMESPACE, SHARED_GATEWAY)
            k8s.apiextensions.CustomResource(
                f"{name}-ingress-httproute",
                api_version=routes,
                kind="HTTPRoute",
                metadata=metadata(
                    f"{args.name}-ingress", args.namespace, labels(app=args.name, **{TEAM_LABEL: args.team})
                ),
                spec=ingress,
                opts=child,
            )

    @staticmethod
    def _istio(
        name: str,
        kind: str,
        api_version: str,
        metadata: k8s.meta.v1.ObjectMetaArgs,
        spec: dict[str, Any],
        opts: pulumi.ResourceOptions,
    ) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            f"{name}-{kind.lower()}", api_version=api_version, kind=kind, metadata=metadata, spec=spec, opts=opts
        )
