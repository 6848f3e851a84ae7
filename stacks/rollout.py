"""Carrying out a canary mesh upgrade: the phases of stacks/upgrade.py one engine `up` each, the waves' workloads
restarted and gated by checks, resumable from the phase the stack records, rolled back when a wave's gate fails.

On a simulated cluster no sidecar is really injected (the webhooks are not called): the restart gives every pod
a new template, and the checks that need running proxies are skipped by name (MI203, MI204), never passed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from ..components import MANAGED_BY
from ..errors import EngineFailed, VerificationFailed
from .target import ClusterTarget
from .upgrade import Installed, MeshLayout, Phase, UpgradePlan, phases, record

RESTART_MANAGER = "meshinstall-rollout"
RESTART_ANNOTATION = "kubectl.kubernetes.io/restartedAt"  # what `kubectl rollout restart` sets
AVAILABLE_TIMEOUT = 600


@dataclass(frozen=True)
class Hooks:
    """What the rollout calls: one engine `up` of the environment as laid out, the gate checks of a layout (the ids
    that failed), and a line for the user."""

    up: Callable[[], Any]
    gate: Callable[[MeshLayout, tuple[str, ...]], list[str]]
    say: Callable[[str], None]


def carry_out(env: Any, plan: UpgradePlan, installed: Installed, start: int, hooks: Hooks, rollback: bool = True) -> None:
    """Run the phases from `start` (0, or where an interrupted upgrade stopped). A wave whose gate fails stops the
    upgrade: rolled back (every moved wave back on the old revision, the new one removed), or left as it is."""
    steps = phases(plan, installed)
    for index in range(start, len(steps)):
        step, last = steps[index], index == len(steps) - 1
        hooks.say(f"upgrade {index + 1}/{len(steps)}: {step.name}")
        env.lay_out(step.layout, None if last else record(plan, installed, index))
        hooks.up()
        if step.restart:
            restart_deployments(env.target, step.restart)
        if step.gate:
            failed = hooks.gate(step.layout, step.gate)
            if failed:
                _stop(env, plan, installed, steps, index, failed, hooks, rollback)
            if plan.pause_seconds and step.restart and steps[index + 1].restart:
                hooks.say(f"pausing {plan.pause_seconds}s before the next wave")
                time.sleep(plan.pause_seconds)


def _stop(env: Any, plan: UpgradePlan, installed: Installed, steps: tuple[Phase, ...], index: int, failed: list[str], hooks: Hooks, rollback: bool) -> None:
    wave = steps[index].name
    if not rollback:
        raise VerificationFailed(
            f"upgrade stopped at {wave}: {', '.join(failed)} failed. Nothing was rolled back: fix the cause and run `meshinstall up` "
            f"to run this wave's gate again and go on, or set mesh.version back to {plan.old_version} (`up --allow-downgrade`) to roll back"
        )
    hooks.say(f"{wave}: {', '.join(failed)} failed; rolling every moved wave back to revision {plan.old_revision}")
    moved = tuple(ns for step in steps[1:index + 1] for ns in step.restart)
    env.lay_out(steps[0].layout, record(plan, installed, 0))
    hooks.up()
    restart_deployments(env.target, moved)
    old = steps[0].layout.revisions[0]
    back = MeshLayout((old,), old, plan.old_version)
    env.lay_out(back, None)
    hooks.up()
    still = hooks.gate(back, plan.gates)
    after = f"; after the rollback {', '.join(still)} still fail" if still else "; the rollback passed its checks"
    raise VerificationFailed(f"upgrade to {plan.new_version} rolled back at {wave}: {', '.join(failed)} failed{after}. "
                             f"The mesh runs {plan.old_version} (revision {plan.old_revision}) again")


def restart_deployments(target: ClusterTarget, namespaces: tuple[str, ...]) -> list[str]:
    """`kubectl rollout restart` of the Deployments meshinstall owns in `namespaces`, then wait until each has
    rolled out (its pods have the new template and are available). Returns `namespace/name` of each."""
    from kubernetes import client, config

    apps = client.AppsV1Api(config.new_client_from_config(config_file=target.kubeconfig, context=target.context))
    selector = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTART_ANNOTATION: now}}}}}
    restarted = []
    for namespace in namespaces:
        for deployment in apps.list_namespaced_deployment(namespace, label_selector=selector).items:
            apps.patch_namespaced_deployment(deployment.metadata.name, namespace, patch, field_manager=RESTART_MANAGER)
            restarted.append((namespace, deployment.metadata.name))
    deadline = time.time() + AVAILABLE_TIMEOUT
    waiting = list(restarted)
    while waiting and time.time() < deadline:
        waiting = [(ns, name) for ns, name in waiting if not _rolled_out(apps.read_namespaced_deployment_status(name, ns))]
        if waiting:
            time.sleep(0.5)
    if waiting:
        raise EngineFailed(f"not rolled out after {AVAILABLE_TIMEOUT}s: " + ", ".join(f"{ns}/{name}" for ns, name in waiting))
    return [f"{ns}/{name}" for ns, name in restarted]


def _rolled_out(deployment: Any) -> bool:
    spec, status = deployment.spec, deployment.status
    replicas = spec.replicas if spec.replicas is not None else 1
    return ((status.observed_generation or 0) >= deployment.metadata.generation and (status.updated_replicas or 0) == replicas
            and (status.available_replicas or 0) == replicas and (status.replicas or 0) == replicas)
