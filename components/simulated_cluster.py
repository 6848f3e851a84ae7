"""The simulated cluster as a resource of the Pulumi graph: created on `up`, removed on `destroy`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from ..simulator import LocalClusterConfig, LocalControlPlane

# Changing these rebuilds the cluster; node count and capacity change in place.
REPLACE_ON = ("state_dir", "kubernetes_version")
CONFIG_FIELDS = tuple(LocalClusterConfig.__dataclass_fields__)


def _config(props: dict[str, Any]) -> LocalClusterConfig:
    """The config back from engine properties (numbers arrive as floats)."""
    values = {k: props[k] for k in CONFIG_FIELDS if k in props}
    for name in ("nodes", "pods"):
        if name in values:
            values[name] = int(values[name])
    return LocalClusterConfig(**values)


# Stack states refer to this class by module and name (the engine pickles the provider by reference, and `refresh`
# and `destroy` use the state's copy): moving or renaming it breaks existing environments.
class _LocalClusterProvider(ResourceProvider):
    """Runs the local control plane's processes. `read` only reads (a refresh never starts anything): the commands
    that change an environment restart its stopped cluster under the environment's lock first."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        plane = LocalControlPlane(_config(props))
        return CreateResult(id_=props["state_dir"], outs={**props, **plane.start()})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in CONFIG_FIELDS if k != "search_path" and olds.get(k) != news.get(k)]
        replaces = [k for k in changed if k in REPLACE_ON]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        plane = LocalControlPlane(_config(news))
        plane.start()  # starts whatever is not running (or runs outdated flags) and syncs the nodes
        return UpdateResult(outs={**news, **plane.info()})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        plane = LocalControlPlane(_config(props))
        if not plane.created():
            return ReadResult(id_=None, outs={})
        return ReadResult(id_=id_, outs={**props, **plane.info()})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        LocalControlPlane(_config(props)).remove()


class SimulatedCluster(Resource):
    """etcd, API server, controllers, scheduler and KWOK nodes on loopback; outputs a kubeconfig (secret)."""

    kubeconfig: pulumi.Output[str]
    kubeconfig_path: pulumi.Output[str]
    server: pulumi.Output[str]

    def __init__(self, name: str, config: LocalClusterConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {**asdict(config), "kubeconfig": None, "kubeconfig_path": None, "server": None}
        secret = pulumi.ResourceOptions(additional_secret_outputs=["kubeconfig"], ignore_changes=["search_path"])
        super().__init__(_LocalClusterProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))
