"""Probes that several checks share: how much of a Deployment is available, how many endpoints of a Service are ready."""

from __future__ import annotations

from .base import Context


def available(ctx: Context, namespace: str, name: str) -> int:
    """The available replicas of a Deployment (0 when it does not exist)."""
    deployment = ctx.deployment(namespace, name)
    return (deployment.get("status") or {}).get("availableReplicas", 0) if deployment else 0


def ready_endpoints(ctx: Context, namespace: str, service: str) -> int:
    """The endpoints of a Service that are ready (or whose readiness is not known)."""
    slices = ctx.endpoint_slices(namespace, service)
    return sum(
        1 for s in slices for e in (s.get("endpoints") or []) if (e.get("conditions") or {}).get("ready") is not False
    )
