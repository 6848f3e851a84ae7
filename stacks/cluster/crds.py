"""The CRDs an environment leaves on its cluster after `destroy`, and the explicit way to remove meshinstall's own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ...components import ISTIO_BASE_RELEASE, managed_by_meshinstall
from ...errors import ClusterUnreachable
from . import kube
from .target import ClusterTarget

# API groups of the CRDs the platform brings: Istio's (base chart), prometheus-operator's (kube-prometheus-stack's
# crds/ folder) and the Gateway API's (meshinstall).
GROUPS = ("istio.io", "monitoring.coreos.com", "gateway.networking.k8s.io")
CRD_API, CRD_PLURAL = "apiextensions.k8s.io/v1", "customresourcedefinitions"


@dataclass(frozen=True)
class LeftCrds:
    """CRDs still in the cluster: those meshinstall installed and may delete, and those it cannot tell are its own."""

    ours: tuple[str, ...]
    unknown: tuple[str, ...]


def _installed_by_meshinstall(meta: dict[str, Any]) -> bool:
    """Labelled by meshinstall (Gateway API) or owned by its `istio-base` Helm release (Istio)."""
    return (
        managed_by_meshinstall(meta.get("labels"))
        or (meta.get("annotations") or {}).get("meta.helm.sh/release-name") == ISTIO_BASE_RELEASE
    )


def _api(target: ClusterTarget) -> kube.Client:
    return kube.connect(target.kubeconfig, target.context)


def left_behind(target: ClusterTarget) -> LeftCrds:
    """The platform's CRDs still in the cluster (prometheus-operator's carry no owner mark, so they are `unknown`)."""
    ours, unknown = [], []
    for crd in kube.list_metadata(_api(target), CRD_API, CRD_PLURAL):
        meta = crd["metadata"]
        if not meta["name"].partition(".")[2].endswith(GROUPS):  # a CRD is named `<plural>.<group>`
            continue
        (ours if _installed_by_meshinstall(meta) else unknown).append(meta["name"])
    return LeftCrds(tuple(sorted(ours)), tuple(sorted(unknown)))


def delete_ours(target: ClusterTarget) -> tuple[str, ...]:
    """Delete the CRDs meshinstall installed (every object of their kinds goes with them); their names."""
    api, left = _api(target), left_behind(target)
    for name in left.ours:
        kube.delete(api, CRD_API, CRD_PLURAL, name)
    return left.ours


def after_destroy(target: ClusterTarget, delete: bool) -> tuple[tuple[str, ...], LeftCrds]:
    """The CRDs deleted (only with `delete`) and those left on the cluster; ClusterUnreachable when it cannot be asked."""
    with _asking(target):
        deleted = delete_ours(target) if delete else ()
        return deleted, left_behind(target)


@contextmanager
def _asking(target: ClusterTarget) -> Iterator[None]:
    """Turn the Kubernetes client's failures (kubeconfig, connection, API) into one error that names the cluster."""
    try:
        yield
    except kube.FAILURES as err:
        raise ClusterUnreachable(
            f"cannot list the CRDs of {target.kubeconfig} (context {target.context or 'current'}): {err}"
        ) from err
