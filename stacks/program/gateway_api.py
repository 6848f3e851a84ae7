"""The Gateway API CRDs meshinstall installs: read from the mirror or the official release, unless someone else owns them."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from ...components import managed_by_meshinstall
from ...errors import UsageError
from ...schemas.model import Spec
from ..cluster import kube
from ..cluster.target import ClusterTarget
from .releases import gateway_api_source

# A CRD that tells whether the Gateway API is installed, and by whom.
PROBE_CRD = "gateways.gateway.networking.k8s.io"


@dataclass(frozen=True)
class GatewayApiPlan:
    """What `up` does about the Gateway API CRDs: install those of `release` (the YAML of the release's CRDs), or
    leave someone else's alone."""

    release: str = ""
    foreign_owner: str | None = None

    @cached_property
    def crds(self) -> tuple[dict[str, Any], ...]:
        """The release's CustomResourceDefinitions, parsed only when the program declares them (0.15 s of an `up`
        with nothing to do, which only fingerprints the text)."""
        # libyaml: the file is 600 kB, 3 s with the Python parser
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return tuple(
            doc
            for doc in yaml.load_all(self.release, Loader=loader)
            if doc and doc.get("kind") == "CustomResourceDefinition"
        )


def plan(spec: Spec, target: ClusterTarget) -> GatewayApiPlan:
    """Read before the engine starts, so an unreadable source is a clear error and not a failing program."""
    source = gateway_api_source(spec)
    if source is None:
        return GatewayApiPlan()
    owner = foreign_owner(target.kubeconfig, target.context)
    if owner:
        return GatewayApiPlan(foreign_owner=owner)
    return GatewayApiPlan(release_text(source))


def release_text(source: str) -> str:
    """The YAML of the release's CRDs at `source`, a file (the mirror's) or an https URL (the official release)."""
    try:
        if source.startswith("https://"):
            with urllib.request.urlopen(source, timeout=60) as response:  # noqa: S310 (a pinned official URL)
                text = response.read().decode()
        else:
            text = Path(source).read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(
            f"cannot read the Gateway API CRDs from {source}: {err}; set mesh.gatewayApi.install: false to skip them"
        ) from err
    return text


def foreign_owner(kubeconfig: str, context: str | None) -> str | None:
    """Who installed the cluster's Gateway API CRDs, when that is not meshinstall; None when absent, ours or unknowable."""
    if not Path(kubeconfig).expanduser().is_file():
        return None
    try:
        crd = kube.get(
            kube.connect(kubeconfig, context),
            f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{PROBE_CRD}",
            kube.METADATA,
            timeout=10,
        )
    except Exception:  # noqa: BLE001 (unreachable, not allowed: meshinstall then declares them as usual)
        return None
    if crd is None:
        return None
    meta = crd["metadata"]
    return (
        None if managed_by_meshinstall(meta.get("labels")) else crd_owner(meta.get("labels"), meta.get("annotations"))
    )


def crd_owner(labels: dict[str, str] | None, annotations: dict[str, str] | None) -> str:
    """Who installed a Gateway API CRD (from its labels and annotations): its Helm release, its manager label, or
    nobody known; with the bundle version."""
    annotations, labels = annotations or {}, labels or {}
    version = annotations.get("gateway.networking.k8s.io/bundle-version", "unknown version")
    if "meta.helm.sh/release-name" in annotations:
        owner = f"Helm release {annotations.get('meta.helm.sh/release-namespace', '?')}/{annotations['meta.helm.sh/release-name']}"
    elif "app.kubernetes.io/managed-by" in labels:
        owner = labels["app.kubernetes.io/managed-by"]
    else:
        owner = "applied without an owner label (kubectl apply?)"
    return f"{owner} ({version})"
