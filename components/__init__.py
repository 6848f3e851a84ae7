"""Pulumi components: one ComponentResource per file, each taking a frozen dataclass of arguments."""

from __future__ import annotations

MANAGED_BY = {"app.kubernetes.io/managed-by": "meshinstall"}
MESH_MEMBER_LABEL = "meshinstall.dev/mesh"
TEAM_LABEL = "meshinstall.dev/team"

ISTIO_NAMESPACE = "istio-system"
INGRESS_NAMESPACE = "istio-ingress"
MONITORING_NAMESPACE = "monitoring"
INGRESS_GATEWAY_NAME = "istio-ingressgateway"
SHARED_GATEWAY = "paas-gateway"


def labels(**extra: str) -> dict[str, str]:
    """Labels every object meshinstall owns carries, plus `extra`."""
    return {**MANAGED_BY, **extra}
