"""MI201: every team namespace carries the sidecar-injection label."""

from __future__ import annotations

from ...components.manifests.sidecars import injection_labels
from ..base import Check, Context, Result, register


@register
class InjectionLabels(Check):
    id = "MI201"
    mesh = "istio"
    title = "team namespaces carry the injection label"
    phase = "verify"

    def inspect(self, ctx: Context) -> Result:
        wanted_of = {
            ns: injection_labels(ctx.layout.team_revision(team.name).value or None)
            for team in ctx.spec.paas.teams
            for ns in team.namespaces
        }
        namespaces = list(wanted_of)
        wrong = []
        for ns in namespaces:
            wanted = wanted_of[ns]
            namespace = ctx.get(f"/api/v1/namespaces/{ns}")
            if namespace is None:
                wrong.append(f"{ns} (missing)")
                continue
            labels = namespace["metadata"].get("labels") or {}
            if any(labels.get(k) != v for k, v in wanted.items()):
                wrong.append(ns)
        target = "namespace labels " + ", ".join(
            sorted({f"{k}={v}" for labels in wanted_of.values() for k, v in labels.items()})
        )
        if wrong:
            return self.failed(target, "not on: " + ", ".join(wrong), "run `meshinstall up` to restore the labels")
        return self.passed(target, f"{len(namespaces)} namespace(s)")
