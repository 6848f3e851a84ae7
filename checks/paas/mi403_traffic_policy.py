"""MI403: every app's VirtualService and DestinationRule match the spec (weights, timeouts, retries, subsets)."""

from __future__ import annotations

from ...components.manifests.app import destination_rule_spec, virtual_service_spec
from ...stacks.program.args import app_args, app_namespaces
from ..base import Check, Context, Result, register


@register
class TrafficPolicy(Check):
    id = "MI403"
    mesh = "istio"
    title = "traffic policy matches the spec"
    phase = "verify"

    def inspect(self, ctx: Context) -> Result:
        namespaces = app_namespaces(ctx.spec.paas)
        wrong = []
        for team in ctx.spec.paas.teams:
            for app in team.apps:
                args = app_args(app, team, namespaces, spec=ctx.spec)
                if not args.service_ports:  # a Score workload without ports has no traffic policy
                    continue
                for plural, wanted in (
                    ("virtualservices", virtual_service_spec(args)),
                    ("destinationrules", destination_rule_spec(args)),
                ):
                    found = ctx.custom_object("networking.istio.io", team.app_namespace, plural, app.name)
                    if found is None:
                        wrong.append(f"{plural}/{team.app_namespace}/{app.name} missing")
                        continue
                    live = found["spec"]
                    if live != wanted:
                        fields = sorted(k for k in set(live) | set(wanted) if live.get(k) != wanted.get(k))
                        wrong.append(f"{plural}/{team.app_namespace}/{app.name} differs in {', '.join(fields)}")
        if wrong:
            return self.failed(
                "virtualservices, destinationrules",
                "; ".join(wrong),
                "run `meshinstall up` to restore the spec's traffic policy",
            )
        return self.passed("virtualservices, destinationrules")
