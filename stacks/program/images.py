"""Every image an environment's pods will run, read off what `render` writes: the pods the charts and the program
declare, and the images made at run time from what they configure (the sidecar an injector adds, the Prometheus
and Alertmanager pods the operator makes, Envoy Gateway's proxies)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import yaml

from .rendered import Rendered

WORKLOADS = ("Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job")


def images(rendered: Rendered) -> list[str]:
    """Each image once, by its full name, sorted. Istio's gateway pods say `image: auto`: the injector puts its
    proxy image there (listed with the injector's)."""
    found = {image for o in rendered.objects for image in (*pod_images(o), *made_at_run_time(o))}
    return sorted(full_name(image) for image in found if image and image != "auto")


def full_name(image: str) -> str:
    """`jaegertracing/jaeger:2` is `docker.io/jaegertracing/jaeger:2`, as a registry mirror needs it named."""
    first, _, rest = image.partition("/")
    if not rest:
        return f"docker.io/library/{image}"
    if "." in first or ":" in first or first == "localhost":
        return image
    return f"docker.io/{image}"


def pod_spec(o: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template of a workload object (or a Pod's own spec)."""
    spec = o.get("spec") or {}
    if o.get("kind") in WORKLOADS:
        return (spec.get("template") or {}).get("spec")
    if o.get("kind") == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
    if o.get("kind") == "Pod":
        return spec
    return None


def pod_images(o: dict[str, Any]) -> list[str]:
    """The images of a workload's containers and init containers."""
    spec = pod_spec(o) or {}
    return [c.get("image", "") for key in ("initContainers", "containers") for c in spec.get(key) or []]


def made_at_run_time(o: dict[str, Any]) -> Iterator[str]:
    """Images that no rendered pod names, but that a controller or an injector will run."""
    kind, name = o.get("kind"), (o.get("metadata") or {}).get("name", "")
    data = o.get("data") or {}
    if kind == "ConfigMap" and name.startswith("istio-sidecar-injector") and "values" in data:
        values = json.loads(data["values"])["global"]
        for image in (values["proxy"]["image"], values["proxy_init"]["image"]):
            yield image if "/" in image else f"{values['hub']}/{image}:{values['tag']}"
    if kind == "ConfigMap" and name == "linkerd-config" and "values" in data:
        values = yaml.safe_load(data["values"])
        proxy = values["proxy"]["image"]
        yield f"{proxy['name']}:{proxy.get('version') or values['linkerdVersion']}"
        init = (values.get("proxyInit") or {}).get("image")
        if init and not values.get("cniEnabled"):
            yield f"{init['name']}:{init['version']}"
    if kind in ("Prometheus", "Alertmanager"):
        yield (o.get("spec") or {}).get("image", "")
    if kind == "EnvoyProxy":
        container = o["spec"]["provider"]["kubernetes"]["envoyDeployment"].get("container") or {}
        yield container.get("image", "")
    for container in (pod_spec(o) or {}).get("containers") or []:
        for arg in container.get("args") or []:
            if arg.startswith("--prometheus-config-reloader="):
                yield arg.split("=", 1)[1]
