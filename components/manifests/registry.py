"""A private registry for every platform image (`images.registry`): each chart's values that name its images, the
proxy the injector adds, Envoy Gateway's proxies, and the apps' images when they opt in. An image keeps its
repository path: `docker.io/istio/pilot:1.30.3` is pulled as `<registry>/istio/pilot:1.30.3`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Registry:
    """Where the images come from, and the Secrets that hold its credentials (one in each namespace that pulls)."""

    host: str  # "registry.corp.example:5000/mirror"
    pull_secrets: tuple[str, ...] = ()
    apps: bool = False

    def mirrored(self, image: str) -> str:
        """`image` as this registry serves it: its registry replaced, its repository path kept."""
        return f"{self.host}/{_path(image)}"


def _path(image: str) -> str:
    """An image's repository path and tag, without its registry (`jaegertracing/jaeger:2` for docker.io's)."""
    first, _, rest = image.partition("/")
    if not rest:
        return f"library/{image}"
    return rest if ("." in first or ":" in first or first == "localhost") else image


def chart_values(chart: str, registry: Registry | None) -> dict[str, Any]:
    """The values that point chart `chart`'s images at the registry (merged over meshinstall's own); {} without one."""
    if registry is None:
        return {}
    names = list(registry.pull_secrets)
    named = [{"name": n} for n in names]
    istio_hub = registry.mirrored("docker.io/istio")
    linkerd = registry.mirrored("cr.l5d.io/linkerd")
    found: dict[str, dict[str, Any]] = {
        "base": {"global": {"imagePullSecrets": names}},
        "istiod": {"hub": istio_hub, "global": {"hub": istio_hub, "imagePullSecrets": names}},
        "cni": {"hub": istio_hub, "global": {"hub": istio_hub, "imagePullSecrets": names}},
        "gateway": {"imagePullSecrets": named},
        "kube-prometheus-stack": {"global": {"imageRegistry": registry.host, "imagePullSecrets": named}},
        "kiali-server": {
            "deployment": {"image_name": registry.mirrored("quay.io/kiali/kiali"), "image_pull_secrets": names}
        },
        "jaeger": {"global": {"imageRegistry": registry.host}, "jaeger": {"image": {"pullSecrets": names}}},
        "linkerd-control-plane": {
            "controllerImage": f"{linkerd}/controller",
            "proxy": {"image": {"name": f"{linkerd}/proxy"}},
            "proxyInit": {"image": {"name": f"{linkerd}/proxy-init"}},
            "debugContainer": {"image": {"name": f"{linkerd}/debug"}},
            "imagePullSecrets": named,
        },
        "linkerd2-cni": {"image": {"name": f"{linkerd}/cni-plugin"}, "imagePullSecrets": named},
        "linkerd-viz": {"defaultRegistry": linkerd, "imagePullSecrets": named},
        "linkerd-crds": {},
        "gateway-helm": {"global": {"imageRegistry": registry.host, "imagePullSecrets": named}},
    }
    return found[chart]


def merged(values: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` merged into `values`, maps deeply."""
    out = dict(values)
    for key, value in over.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out
