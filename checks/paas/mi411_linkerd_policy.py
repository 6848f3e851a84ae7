"""MI411: each app's Linkerd policy and routes are the spec's: its Server, its callers' MeshTLSAuthentication and
AuthorizationPolicy, its HTTPRoute on its Service and, when routed, its HTTPRoute on the shared Gateway."""

from __future__ import annotations

from ...components import SHARED_GATEWAY
from ...components.manifests import linkerd
from ...stacks.program.args import app_args, app_namespaces
from ..base import Check, Context, Result, register


@register
class LinkerdPolicy(Check):
    id = "MI411"
    mesh = "linkerd"
    title = "Linkerd's policy and routes match the spec"
    phase = "verify"

    def inspect(self, ctx: Context) -> Result:
        namespaces = app_namespaces(ctx.spec.paas)
        problems: list[str] = []
        for team in ctx.spec.paas.teams:
            for app in team.apps:
                if not app.has_service:
                    continue
                args = app_args(app, team, namespaces, spec=ctx.spec)
                problems += [f"{team.app_namespace}/{app.name}: {p}" for p in _app_problems(ctx, args)]
        gateway = ctx.spec.paas.gateway
        if gateway and ctx.spec.mesh.ingress_gateway.enabled:
            live = ctx.custom_object(
                "gateway.networking.k8s.io", linkerd.ENVOY_GATEWAY_NAMESPACE, "gateways", SHARED_GATEWAY
            )
            wanted = linkerd.gateway_spec(gateway.hosts, gateway.tls.secret_name if gateway.tls else None)
            if live is None:
                problems.append(f"gateway {linkerd.ENVOY_GATEWAY_NAMESPACE}/{SHARED_GATEWAY} missing")
            elif [(x.get("hostname"), x.get("port")) for x in live["spec"].get("listeners", [])] != [
                (x["hostname"], x["port"]) for x in wanted["listeners"]
            ]:
                problems.append(f"gateway {SHARED_GATEWAY}'s listeners differ from paas.gateway")
        target = "servers, meshtlsauthentications, authorizationpolicies, httproutes, gateways"
        if problems:
            return self.failed(
                target, "; ".join(problems), "run `meshinstall up` to restore the spec's policy and routes"
            )
        return self.passed(target)


def _app_problems(ctx: Context, app) -> list[str]:
    ns, problems = app.namespace, []
    server = ctx.custom_object("policy.linkerd.io", ns, "servers", app.name, "v1beta3")
    if server is None:
        problems.append("server missing")
    elif server["spec"].get("port") != linkerd.server_spec(app)["port"]:
        problems.append(
            f"server port is {server['spec'].get('port')}, the spec says {linkerd.server_spec(app)['port']}"
        )
    wanted = linkerd.authentication_spec(app)
    if wanted:
        live = ctx.custom_object("policy.linkerd.io", ns, "meshtlsauthentications", f"{app.name}-callers", "v1alpha1")
        if live is None:
            problems.append("meshtlsauthentication of its callers missing")
        elif sorted(live["spec"].get("identities") or []) != wanted["identities"]:
            problems.append(f"callers are {live['spec'].get('identities')}, the spec says {wanted['identities']}")
        if ctx.custom_object("policy.linkerd.io", ns, "authorizationpolicies", f"allow-{app.name}", "v1alpha1") is None:
            problems.append("authorizationpolicy missing")
    route = ctx.custom_object("gateway.networking.k8s.io", ns, "httproutes", app.name)
    if route is None:
        problems.append("httproute missing")
    elif _backends(route["spec"]) != _backends(linkerd.mesh_route_spec(app)):
        problems.append("httproute's backends (canary weights) differ from the spec")
    if app.route and ctx.custom_object("gateway.networking.k8s.io", ns, "httproutes", f"{app.name}-ingress") is None:
        problems.append("ingress httproute missing")
    return problems


def _backends(spec: dict) -> list[tuple[str, int, int]]:
    """A route's backends as (Service, port, weight): the API server fills in the group, kind and weight 1."""
    rules = spec.get("rules") or [{}]
    return [(b.get("name"), b.get("port"), b.get("weight", 1)) for b in rules[0].get("backendRefs") or []]
