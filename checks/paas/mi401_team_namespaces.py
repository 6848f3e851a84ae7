"""MI401: every team namespace has its quota, limit range, role binding and default-deny policies."""

from __future__ import annotations

from ...components.manifests.linkerd import team_namespace_annotations
from ...components.manifests.team import quota_spec
from ...stacks.program.args import quota
from ..base import Check, Context, Result, register


@register
class TeamNamespaces(Check):
    id = "MI401"
    title = "team namespaces have quota, limits, access and default-deny"
    phase = "verify"

    def inspect(self, ctx: Context) -> Result:
        problems = []
        for team in ctx.spec.paas.teams:
            for ns in team.namespaces:
                problems += [f"{ns}: {p}" for p in _namespace_problems(ctx, team, ns)]
        if problems:
            return self.failed("team namespaces", "; ".join(problems), "run `meshinstall up` to restore them")
        return self.passed("team namespaces", ", ".join(ns for t in ctx.spec.paas.teams for ns in t.namespaces))


def _namespace_problems(ctx: Context, team, ns: str) -> list[str]:
    problems = []
    quotas = {q["metadata"]["name"]: q for q in ctx.items("v1", "resourcequotas", ns)}
    wanted = quota_spec(quota(team.quota))["hard"]
    if "team-quota" not in quotas:
        problems.append("resourcequota team-quota missing")
    elif _amounts(hard := quotas["team-quota"]["spec"].get("hard") or {}) != _amounts(wanted):
        live = ", ".join(f"{k}={v}" for k, v in sorted(hard.items()))
        problems.append(
            f"resourcequota team-quota is {live}, the spec says "
            + ", ".join(f"{k}={v}" for k, v in sorted(wanted.items()))
        )
    if "team-defaults" not in {r["metadata"]["name"] for r in ctx.items("v1", "limitranges", ns)}:
        problems.append("limitrange team-defaults missing")
    bindings = {b["metadata"]["name"]: b for b in ctx.items("rbac.authorization.k8s.io/v1", "rolebindings", ns)}
    if team.groups:
        binding = bindings.get("team-developer")
        subjects = sorted(s["name"] for s in (binding.get("subjects") or [])) if binding else []
        if subjects != sorted(team.groups):
            problems.append(
                f"rolebinding team-developer binds {subjects or 'nothing'}, the spec says {sorted(team.groups)}"
            )
    if ctx.spec.mesh.linkerd:
        annotations = (ctx.get(f"/api/v1/namespaces/{ns}") or {}).get("metadata", {}).get("annotations") or {}
        wanted_annotations = team_namespace_annotations(ctx.spec.mesh.mtls)
        problems += [f"annotation {k}={v} missing" for k, v in wanted_annotations.items() if annotations.get(k) != v]
    elif "default-deny" not in {
        p["metadata"]["name"] for p in ctx.items("security.istio.io/v1", "authorizationpolicies", ns)
    }:
        problems.append("authorizationpolicy default-deny missing")
    netpols = {p["metadata"]["name"] for p in ctx.items("networking.k8s.io/v1", "networkpolicies", ns)}
    problems += [f"networkpolicy {name} missing" for name in ("default-deny", "allow-mesh") if name not in netpols]
    return problems


def _amounts(hard: dict[str, str]) -> dict[str, int]:
    """Quota values as numbers: the API server rewrites quantities (2000m -> 2, 1024Mi -> 1Gi)."""
    from ...schemas.quantity import bytes_of, millicores

    parse = {"requests.cpu": millicores, "requests.memory": bytes_of, "pods": int}
    return {k: parse.get(k, str)(v) for k, v in hard.items()}
