"""The PaaS layer: the shared ingress Gateway, every team's space and every team's apps."""

from __future__ import annotations

from dataclasses import replace

import pulumi
import pulumi_kubernetes as k8s

from . import INGRESS_NAMESPACE, SHARED_GATEWAY, metadata
from .app import AppDeployment
from .manifests import linkerd
from .manifests.linkerd import ENVOY_GATEWAY_NAMESPACE
from .manifests.paas import PaasArgs, gateway_spec
from .team import TeamSpace


class PaasLayer(pulumi.ComponentResource):
    """Teams' namespaces first, then their apps, then the shared Gateway routed apps bind to."""

    teams: dict[str, TeamSpace]  # by team name
    apps: list[AppDeployment]

    def __init__(self, name: str, args: PaasArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("meshinstall:components:Paas", name, None, opts)
        self.teams = {team.name: TeamSpace(team.name, team, pulumi.ResourceOptions(parent=self)) for team in args.teams}
        self.apps = []
        for app in args.apps:
            # an app waits for its team's namespaces too, which only exist here
            after = (*self.teams[app.team].namespaces.values(), *app.after)
            self.apps.append(
                AppDeployment(f"{app.team}-{app.name}", replace(app, after=after), pulumi.ResourceOptions(parent=self))
            )
        if args.gateway and args.mesh == "linkerd":
            k8s.apiextensions.CustomResource(
                "shared-gateway",
                api_version="gateway.networking.k8s.io/v1",
                kind="Gateway",
                metadata=metadata(SHARED_GATEWAY, ENVOY_GATEWAY_NAMESPACE),
                spec=linkerd.gateway_spec(args.gateway.hosts, args.gateway.tls_secret),
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)),
            )
            if args.gateway.tls_secret:
                k8s.apiextensions.CustomResource(
                    "shared-gateway-https-redirect",
                    api_version="gateway.networking.k8s.io/v1",
                    kind="HTTPRoute",
                    metadata=metadata(f"{SHARED_GATEWAY}-https-redirect", ENVOY_GATEWAY_NAMESPACE),
                    spec=linkerd.redirect_route_spec(SHARED_GATEWAY),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)),
                )
        elif args.gateway:
            k8s.apiextensions.CustomResource(
                "shared-gateway",
                api_version="networking.istio.io/v1",
                kind="Gateway",
                metadata=metadata(SHARED_GATEWAY, INGRESS_NAMESPACE),
                spec=gateway_spec(args.gateway),
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)),
            )
        self.register_outputs({"teams": sorted(self.teams)})
