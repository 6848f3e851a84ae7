"""The Kubernetes Gateway API CRDs: no chart installs them, so meshinstall does, and keeps them on `destroy`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from . import MANAGED_BY, OWNERSHIP


@dataclass(frozen=True)
class GatewayApiArgs:
    """The upstream CRD documents (standard channel) to install."""

    crds: tuple[dict[str, Any], ...]


def crd_metadata(doc: dict[str, Any]) -> dict[str, Any]:
    """The upstream metadata with meshinstall's managed-by label and ownership annotation added."""
    meta = doc.get("metadata", {})
    return {
        "name": meta["name"],
        "labels": {**meta.get("labels", {}), **MANAGED_BY},
        "annotations": {**meta.get("annotations", {}), **OWNERSHIP},
    }


class GatewayApi(pulumi.ComponentResource):
    """One CustomResourceDefinition per upstream document, retained on delete.

    Deleting a CRD deletes every object of its kind in the cluster, whoever made them, so `destroy` leaves them;
    `meshinstall destroy --delete-crds` removes them explicitly.
    """

    crds: list[k8s.apiextensions.v1.CustomResourceDefinition]

    def __init__(self, name: str, args: GatewayApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("meshinstall:components:GatewayApi", name, None, opts)
        keep = pulumi.ResourceOptions(parent=self, retain_on_delete=True)
        self.crds = [
            k8s.apiextensions.v1.CustomResourceDefinition(
                doc["metadata"]["name"], metadata=crd_metadata(doc), spec=doc["spec"], opts=keep
            )
            for doc in args.crds
        ]
        self.register_outputs({})
