"""Restarts of the Deployments meshinstall owns, as `kubectl rollout restart` makes them, waited for until rolled out:
how a mesh upgrade moves a wave of workloads to the new sidecar (operations/upgrade.py).

On a simulated cluster no sidecar is really injected (the webhooks are not called): the restart gives every pod
a new template, and the checks that need running proxies are skipped by name (MI203, MI204), never passed.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from ...components import managed_by_selector
from ...errors import EngineFailed
from . import kube
from .target import ClusterTarget

RESTART_MANAGER = "meshinstall-rollout"
RESTART_ANNOTATION = "kubectl.kubernetes.io/restartedAt"  # what `kubectl rollout restart` sets
AVAILABLE_TIMEOUT = 600


def restart_deployments(target: ClusterTarget, namespaces: tuple[str, ...], every: tuple[str, ...] = ()) -> list[str]:
    """`kubectl rollout restart` of the Deployments meshinstall owns in `namespaces` (and of every Deployment in
    `every`: charts' and controllers'), then wait until each has rolled out (its pods have the new template and are
    available). Returns `namespace/name` of each."""
    api = kube.connect(target.kubeconfig, target.context)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    changes = {"spec": {"template": {"metadata": {"annotations": {RESTART_ANNOTATION: now}}}}}
    restarted = []
    for namespace in (*namespaces, *every):
        selector = "" if namespace in every else managed_by_selector()
        for deployment in kube.items(api, "apps/v1", "deployments", selector, namespace):
            name = deployment["metadata"]["name"]
            kube.patch(api, "apps/v1", "deployments", name, changes, namespace, field_manager=RESTART_MANAGER)
            restarted.append((namespace, name))
    deadline = time.time() + AVAILABLE_TIMEOUT
    waiting = list(restarted)
    while waiting and time.time() < deadline:
        waiting = [
            (ns, name)
            for ns, name in waiting
            if not rolled_out(kube.get(api, f"{kube.path_of('apps/v1', 'deployments', ns)}/{name}"))
        ]
        if waiting:
            time.sleep(0.5)
    if waiting:
        raise EngineFailed(
            f"not rolled out after {AVAILABLE_TIMEOUT}s: " + ", ".join(f"{ns}/{name}" for ns, name in waiting)
        )
    return [f"{ns}/{name}" for ns, name in restarted]


def rolled_out(deployment: dict[str, Any] | None) -> bool:
    """Whether a Deployment's pods all have its current template and are available (False when it is gone)."""
    if deployment is None:
        return False
    spec, status = deployment["spec"], deployment.get("status") or {}
    replicas = spec["replicas"] if spec.get("replicas") is not None else 1
    return (
        (status.get("observedGeneration") or 0) >= deployment["metadata"]["generation"]
        and (status.get("updatedReplicas") or 0) == replicas
        and (status.get("availableReplicas") or 0) == replicas
        and (status.get("replicas") or 0) == replicas
    )
