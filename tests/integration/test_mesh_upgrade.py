"""Upgrading the mesh by changing one line: `dev` brought up at Istio 1.29.6, then `mesh.version: 1.30.3`.

The real command in a subprocess, against `dev` on its own simulated cluster; what happened is read back from the
API server, while the upgrade runs (a thread records the istiod Deployments and the team namespaces' revision
every 0.2 s) and after it. The tests run in file order: the plan, a failing gate rolled back, then an upgrade
killed in the middle of its waves and resumed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, SECRETS

from meshinstall.simulator.local_control_plane import PROCESSES

pytestmark = pytest.mark.integration
OLD, NEW = "1.29.6", "1.30.3"


class Upgrading:
    """`dev` in a folder of its own, with its base at Istio 1.29.6."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.base = folder / "environments" / "base.yaml"
        self.env = {**os.environ, **SECRETS, "MESHINSTALL_PASSPHRASE": "upgrade-test"}
        self.kubeconfig = str(folder / "environments" / ".meshinstall" / "clusters" / "dev" / "kubeconfig")

    def set_version(self, version: str) -> None:
        text = self.base.read_text()
        self.base.write_text(
            text.replace(f"version: {OLD}", f"version: {version}").replace(f"version: {NEW}", f"version: {version}")
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["meshinstall", *args], cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=900
        )

    def kubectl(self, *args: str) -> str:
        return subprocess.run(
            ["kubectl", "--kubeconfig", self.kubeconfig, *args], capture_output=True, text=True, check=True, timeout=120
        ).stdout

    def helm_charts(self) -> dict[str, str]:
        out = subprocess.run(
            ["helm", "--kubeconfig", self.kubeconfig, "list", "-A", "-o", "json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return {r["name"]: r["chart"] for r in json.loads(out)}

    def snapshot(self) -> tuple[frozenset[str], str, str]:
        """(istiod Deployments, payments' revision, storefront's revision) as the API server has them now."""
        istiods = frozenset(
            d["metadata"]["name"]
            for d in json.loads(self.kubectl("-n", "istio-system", "get", "deploy", "-o", "json"))["items"]
            if d["metadata"]["name"].startswith("istiod")
        )
        labels = {
            n["metadata"]["name"]: n["metadata"].get("labels", {})
            for n in json.loads(self.kubectl("get", "ns", "payments", "storefront", "-o", "json"))["items"]
        }
        return istiods, *(
            labels[ns].get("istio.io/rev", "default" if labels[ns].get("istio-injection") == "enabled" else "none")
            for ns in ("payments", "storefront")
        )


class Watch:
    """Snapshots of the cluster taken every 0.2 s while a command runs."""

    def __init__(self, env: Upgrading) -> None:
        self.env, self.seen, self.running = env, [], True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while self.running:
            try:
                self.seen.append(self.env.snapshot())
            except (subprocess.CalledProcessError, KeyError, json.JSONDecodeError, subprocess.TimeoutExpired):
                pass
            time.sleep(0.2)

    def stop(self) -> list[tuple[frozenset[str], str, str]]:
        self.running = False
        self.thread.join(timeout=30)
        return self.seen


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("upgrade")
    shutil.copytree(ROOT / "environments", folder / "environments", ignore=shutil.ignore_patterns(".meshinstall"))
    env = Upgrading(folder)
    env.set_version(OLD)
    try:
        first = env.run("up", "dev", "--yes")
        assert first.returncode == 0, first.stdout + first.stderr
        assert env.helm_charts()["istiod"] == f"istiod-{OLD}"
        env.set_version(NEW)
        yield env
    finally:
        env.run("destroy", "dev", "--yes")
        for name in PROCESSES:
            subprocess.run(["pkill", "-9", "-f", f"{name} .*={folder}/"], check=False)


def test_preview_prints_the_plan_and_changes_nothing(dev):
    preview = dev.run("preview", "dev")
    assert preview.returncode == 0, preview.stdout + preview.stderr
    assert (
        f"mesh upgrade {OLD} -> {NEW}, canary: revision 1-30-3 installed beside default, then 2 wave(s):"
        in preview.stdout
    )
    assert "  wave 1: payments (namespaces payments); gate: MI101, MI102, MI201" in preview.stdout
    assert "  wave 2: storefront (namespaces storefront)" in preview.stdout
    assert "then the gateways upgraded in place to 1.30.3: istio-ingressgateway" in preview.stdout
    assert "the engine's steps of the first phase (install revision 1-30-3)" in preview.stdout
    assert dev.helm_charts()["istiod"] == f"istiod-{OLD}" and "istiod-1-30-3" not in dev.helm_charts()
    assert dev.snapshot() == (frozenset({"istiod"}), "default", "default")


def test_a_wave_whose_gate_fails_is_rolled_back_with_every_earlier_one(dev):
    # someone shifted the canary's traffic by hand: MI403 fails at the first wave's gate (the phases do not refresh)
    route = json.loads(dev.kubectl("-n", "payments", "get", "virtualservice", "checkout", "-o", "json"))
    weights = [d["weight"] for d in route["spec"]["http"][0]["route"]]
    dev.kubectl(
        "-n",
        "payments",
        "patch",
        "virtualservice",
        "checkout",
        "--type=json",
        "-p",
        json.dumps(
            [
                {"op": "replace", "path": "/spec/http/0/route/0/weight", "value": 50},
                {"op": "replace", "path": "/spec/http/0/route/1/weight", "value": 50},
            ]
        ),
    )
    up = dev.run("up", "dev", "--yes")
    assert up.returncode == 4, up.stdout + up.stderr
    assert "upgrade to 1.30.3 rolled back at wave 1: payments: MI403 failed" in up.stderr, up.stderr
    assert dev.snapshot() == (frozenset({"istiod"}), "default", "default"), (
        "back on the old revision, the new one removed"
    )
    charts = dev.helm_charts()
    assert (
        charts["istiod"] == f"istiod-{OLD}"
        and "istiod-1-30-3" not in charts
        and charts["istio-ingressgateway"] == f"gateway-{OLD}"
    )
    dev.kubectl(
        "-n",
        "payments",
        "patch",
        "virtualservice",
        "checkout",
        "--type=json",
        "-p",
        json.dumps(
            [{"op": "replace", "path": f"/spec/http/0/route/{i}/weight", "value": w} for i, w in enumerate(weights)]
        ),
    )


def test_an_upgrade_killed_in_its_waves_resumes_at_its_wave_and_finishes(dev):
    watch = Watch(dev)
    first = subprocess.Popen(
        ["meshinstall", "up", "dev", "--yes"],
        cwd=dev.folder,
        env=dev.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = ""
    for line in first.stdout:
        output += line
        if "upgrade 3/5: wave 2: storefront" in line:
            first.kill()
            break
    first.wait()
    assert "upgrade 2/5: wave 1: payments" in output, output
    status = dev.run("status", "dev")
    assert (
        "mesh upgrade in progress: 1.29.6 -> 1.30.3, revisions default and 1-30-3; done: install revision 1-30-3"
        in status.stdout
    ), status.stdout
    resumed = dev.run("up", "dev", "--yes")
    seen = watch.stop()
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming the upgrade to 1.30.3 at phase " in resumed.stdout + resumed.stderr
    assert "upgrade 1/5" not in resumed.stdout + resumed.stderr, "it never starts over"
    # side by side during the waves; payments moved (and stayed) before storefront; the old revision gone at the end
    assert any(istiods == {"istiod", "istiod-1-30-3"} and (p, s) == ("1-30-3", "default") for istiods, p, s in seen), (
        seen[-5:]
    )
    assert not any(s == "1-30-3" and p != "1-30-3" for _, p, s in seen), "storefront never moved before payments"
    assert dev.snapshot() == (frozenset({"istiod-1-30-3"}), "1-30-3", "1-30-3")
    charts = dev.helm_charts()
    assert charts["istiod-1-30-3"] == f"istiod-{NEW}" and "istiod" not in charts
    assert charts["istio-ingressgateway"] == f"gateway-{NEW}" and charts["istio-base"] == f"base-{NEW}"
    for namespace in ("payments", "storefront"):
        for deployment in json.loads(dev.kubectl("-n", namespace, "get", "deploy", "-o", "json"))["items"]:
            assert "kubectl.kubernetes.io/restartedAt" in deployment["spec"]["template"]["metadata"].get(
                "annotations", {}
            ), deployment["metadata"]["name"]
    again = dev.run("up", "dev", "--yes")
    assert again.returncode == 0 and "up: 0 change(s)" in again.stdout, again.stdout + again.stderr
    status = dev.run("status", "dev")
    assert "meshUpgrade" not in status.stdout
