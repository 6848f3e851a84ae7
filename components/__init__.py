"""Pulumi components: one ComponentResource per file, each taking a frozen dataclass of arguments."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the names and labels below are read without the Pulumi SDK (stacks/, checks/)
    import pulumi_kubernetes as k8s

MANAGED_BY = {"app.kubernetes.io/managed-by": "meshinstall"}
MESH_MEMBER_LABEL = "meshinstall.dev/mesh"
TEAM_LABEL = "meshinstall.dev/team"

ISTIO_NAMESPACE = "istio-system"
INGRESS_NAMESPACE = "istio-ingress"
MONITORING_NAMESPACE = "monitoring"
INGRESS_GATEWAY_NAME = "istio-ingressgateway"
ISTIO_BASE_RELEASE = "istio-base"
ISTIOD_RELEASE = "istiod"
SHARED_GATEWAY = "paas-gateway"


def managed_by_selector() -> str:
    """The label selector of the objects meshinstall manages (`app.kubernetes.io/managed-by=meshinstall`)."""
    return ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())


def managed_by_meshinstall(object_labels: dict[str, str] | None) -> bool:
    """Whether an object carries meshinstall's managed-by label (so meshinstall declared it)."""
    return all((object_labels or {}).get(k) == v for k, v in MANAGED_BY.items())


def labels(**extra: str) -> dict[str, str]:
    """Labels every object meshinstall owns carries, plus `extra`."""
    return {**MANAGED_BY, **extra}


# meshinstall owns what it declares: on `up`, server-side apply takes back fields someone changed by hand
# (drift) instead of failing on a field-manager conflict.
OWNERSHIP = {"pulumi.com/patchForce": "true"}
# The engine returns once the object is accepted instead of awaiting its readiness (components/app.py says where).
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}
# On a namespace that existed before meshinstall's first `up`: meshinstall manages its labels, and `destroy` leaves it.
ADOPTED = "meshinstall.io/adopted"


def metadata(
    name: str,
    namespace: str | None = None,
    object_labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> k8s.meta.v1.ObjectMetaArgs:
    """Metadata of an object meshinstall owns: its labels (default: the managed-by label), the ownership annotation
    and any others."""
    import pulumi_kubernetes as k8s

    return k8s.meta.v1.ObjectMetaArgs(
        name=name,
        namespace=namespace,
        labels=object_labels or labels(),
        annotations={**OWNERSHIP, **(annotations or {})},
    )
