"""MI211: every app pod runs a ready linkerd-proxy (`linkerd check`: linkerd-data-plane; needs running containers)."""

from __future__ import annotations

from ..base import Check, Context, Result, register

PROXY = "linkerd-proxy"


@register
class LinkerdProxies(Check):
    id = "MI211"
    mesh = "linkerd"
    title = "app pods run a ready linkerd-proxy"
    phase = "verify"
    needs_containers = "no proxy is injected there"
    looks_at = "pods of every app: container linkerd-proxy, ready"

    def inspect(self, ctx: Context) -> Result:
        missing, unready = [], []
        for team in ctx.spec.paas.teams:
            for app in team.apps:
                for pod in ctx.items("v1", "pods", team.app_namespace, f"app={app.name}"):
                    name = f"{team.app_namespace}/{pod['metadata']['name']}"
                    spec, status = pod["spec"], pod.get("status") or {}
                    # the proxy is a container, or a native sidecar (an init container that keeps running)
                    if PROXY not in {c["name"] for c in spec.get("containers", []) + spec.get("initContainers", [])}:
                        missing.append(name)
                        continue
                    states = status.get("containerStatuses", []) + status.get("initContainerStatuses", [])
                    if not any(s["name"] == PROXY and s.get("ready") for s in states):
                        unready.append(name)
        problems = ([f"no proxy in {', '.join(missing[:5])}"] if missing else []) + (
            [f"proxy not ready in {', '.join(unready[:5])}"] if unready else []
        )
        if problems:
            return self.failed(
                self.looks_at,
                "; ".join(problems),
                "restart the pods (kubectl rollout restart) after checking MI111; `kubectl logs POD -c linkerd-proxy`",
            )
        return self.passed(self.looks_at)
