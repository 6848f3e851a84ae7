"""A real platform for integration tests: `up` of a copy of environments/dev.yaml, destroyed in `finally`."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SECRETS
from kubernetes import client, config

from meshinstall.schemas.validate import load_spec
from meshinstall.stacks.cluster.target import ClusterTarget
from meshinstall.stacks.engine import environment, runs, toolchain

ISTIO = ("networking.istio.io", "v1")
SECURITY = ("security.istio.io", "v1")
MONITORING = ("monitoring.coreos.com", "v1")


class Platform:
    """The environment under test: its spec folder, stack and API clients."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.spec_path = folder / "environments" / "dev.yaml"
        self.reload()

    def reload(self) -> None:
        self.spec = load_spec(self.spec_path)
        self.stack = environment.open_stack(self.spec)

    def connect(self) -> None:
        config.load_kube_config(ClusterTarget.of(self.spec).kubeconfig)
        self.core, self.apps, self.custom = client.CoreV1Api(), client.AppsV1Api(), client.CustomObjectsApi()

    def istio(self, group_version: tuple[str, str], namespace: str, plural: str, name: str) -> dict:
        return self.custom.get_namespaced_custom_object(*group_version, namespace, plural, name)

    def edit_spec(self, change) -> None:
        data = yaml.safe_load(self.spec_path.read_text())
        change(data)
        self.spec_path.write_text(yaml.safe_dump(data, sort_keys=False))
        self.reload()


def bring_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """Copy environments/, `up` dev on its own simulated cluster, yield it, destroy it whatever happens."""
    missing = toolchain.missing()
    assert not missing, f"integration tests need the toolchain (toolchain/install.sh): missing {missing}"
    folder = tmp_path_factory.mktemp("dev-platform")
    shutil.copytree(ROOT / "environments", folder / "environments", ignore=shutil.ignore_patterns(".meshinstall"))
    saved = dict(os.environ)
    os.environ.update({**SECRETS, "MESHINSTALL_PASSPHRASE": "integration-test"})
    env = Platform(folder)
    try:
        outcome = runs.up(env.stack)
        assert outcome.result == "succeeded"
        env.first_up = outcome
        env.connect()
        yield env
    finally:
        try:
            runs.destroy(env.stack)
        finally:
            ClusterTarget.of(env.spec).control_plane().remove()
            os.environ.clear()
            os.environ.update(saved)
