"""Faults a user meets: kills, Ctrl-C, concurrent commands, dead processes, a wrong passphrase, a damaged state.

One `dev` environment on its own simulated cluster, driven through the real `meshinstall` command in a
subprocess (so signals reach it as they would from a terminal or an OOM killer). The tests run in file order and
each leaves the environment converged for the next. Each fault asserts the same three things:
1. the command's output and exit code say what happened;
2. the next plain `up` converges (it clears what a dead run left and says so);
3. the `up` after that changes nothing, every object labelled managed-by meshinstall is in the state (and every
   object of the state is in the cluster), and no process is left over: no engine process of this environment,
   and exactly one of each control-plane process (none after `destroy`).
See tests/faults/README.md for the matrix and its outcomes.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SECRETS
from disks import fill, room_for, small_disk

from meshinstall.simulator.local_control_plane import PROCESSES, LocalClusterConfig, LocalControlPlane
from meshinstall.stacks.cluster import recovery
from meshinstall.stacks.cluster.watch import DEAD_AFTER, STOP_AFTER
from meshinstall.stacks.engine import toolchain
from meshinstall.stacks.state.backend import FileBackend

pytestmark = [pytest.mark.integration, pytest.mark.faults]
PASSPHRASE = "faults-test"
MANAGED = "app.kubernetes.io/managed-by=meshinstall"


class Environment:
    """The `dev` environment under test, in a folder of its own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.spec = folder / "environments" / "dev.yaml"
        self.dot = folder / "environments" / ".meshinstall"
        self.env = {**os.environ, **SECRETS, "MESHINSTALL_PASSPHRASE": PASSPHRASE}

    # --- running meshinstall ----------------------------------------------------------------------------------

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["meshinstall", *args], cwd=self.folder, env=env or self.env, capture_output=True, text=True, timeout=900
        )

    def start(self, *args: str) -> Running:
        return Running(
            subprocess.Popen(
                ["meshinstall", *args],
                cwd=self.folder,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ),
            self,
        )

    def converges(self) -> subprocess.CompletedProcess[str]:
        """The next plain `up` succeeds, the one after it changes nothing, and nothing is orphaned."""
        first = self.run("up", "dev", "--yes")
        assert first.returncode == 0, first.stdout + first.stderr
        second = self.run("up", "dev", "--yes")
        assert second.returncode == 0, second.stdout + second.stderr
        assert "up: 0 change(s)" in second.stdout, second.stdout
        self.assert_state_matches_cluster()
        self.assert_no_stray_process(cluster_processes=1)
        return first

    # --- what is left -----------------------------------------------------------------------------------------

    @property
    def kubeconfig(self) -> str:
        return str(self.dot / "clusters" / "dev" / "kubeconfig")

    def kubectl(self, *args: str) -> str:
        out = subprocess.run(
            ["kubectl", "--kubeconfig", self.kubeconfig, *args], capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    def state(self) -> dict:
        return json.loads((self.dot / "state" / ".pulumi" / "stacks" / "meshinstall" / "dev.json").read_text())[
            "checkpoint"
        ]["latest"]

    def assert_state_matches_cluster(self) -> None:
        """Every object labelled managed-by meshinstall is in the state, and every object of the state exists."""
        recorded: dict[str, set[str]] = {}
        for resource in self.state().get("resources", []):
            kind = resource["type"]
            if kind.startswith("kubernetes:") and not kind.startswith("kubernetes:helm.sh") and resource.get("custom"):
                group_version, _, name = kind.split(":", 1)[1].rpartition(":")
                group = (
                    group_version.split("/")[0]
                    if "/" in group_version and not group_version.startswith("core/")
                    else ""
                )
                recorded.setdefault(f"{name.lower()}.{group}".rstrip("."), set()).add(resource["id"])
        assert not self.state().get("pending_operations"), "pending operations stay in the state"
        kinds = ",".join(sorted(recorded))
        live = json.loads(self.kubectl("get", kinds, "-A", "-l", MANAGED, "-o", "json"))["items"]
        found: dict[str, set[str]] = {}
        for item in live:
            meta = item["metadata"]
            group = item["apiVersion"].split("/")[0] if "/" in item["apiVersion"] else ""
            plural = f"{item['kind'].lower()}.{group}".rstrip(".")
            found.setdefault(plural, set()).add(
                f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
            )
        for plural, ids in found.items():
            assert ids <= recorded.get(plural, set()), (
                f"{plural} in the cluster but not in the state: {sorted(ids - recorded.get(plural, set()))}"
            )
        for plural, ids in recorded.items():
            assert ids <= found.get(plural, set()), (
                f"{plural} in the state but not in the cluster: {sorted(ids - found.get(plural, set()))}"
            )

    def assert_no_stray_process(self, cluster_processes: int) -> None:
        strays = recovery.engine_processes(self.dot / "pulumi-home")
        assert not strays, f"engine processes left: {strays}"
        for name in PROCESSES:
            mine = own_processes(name, self.dot / "clusters" / "dev")
            assert len(mine) == cluster_processes, (
                f"{len(mine)} {name} process(es) of this cluster, expected {cluster_processes}"
            )

    def engine_locks(self) -> list:
        return FileBackend(self.dot / "state").engine_locks("meshinstall", "dev")

    def edit(self, change: Callable[[dict], None]) -> None:
        data = yaml.safe_load(self.spec.read_text())
        change(data)
        self.spec.write_text(yaml.safe_dump(data, sort_keys=False))


class Running:
    """A meshinstall command running in the background, its output read as it comes."""

    def __init__(self, process: subprocess.Popen[str], env: Environment) -> None:
        self.process, self.env, self.lines = process, env, []
        self.reader = threading.Thread(target=lambda: self.lines.extend(iter(process.stdout.readline, "")), daemon=True)
        self.reader.start()

    def read(self) -> str:
        return "".join(self.lines)

    def wait_for(self, ready: Callable[[str], bool], timeout: float = 300) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if ready(self.read()):
                return
            assert self.process.poll() is None, f"ended before the fault point:\n{self.read()}"
            time.sleep(0.1)
        raise AssertionError(f"fault point not reached in {timeout}s:\n{self.read()}")

    def finish(self, timeout: float = 600) -> tuple[int, str]:
        code = self.process.wait(timeout=timeout)
        self.reader.join(timeout=30)
        return code, self.read()


def own_processes(name: str, root: Path) -> list[int]:
    return LocalControlPlane(LocalClusterConfig(state_dir=str(root))).own_processes(name)


def eventually(condition: Callable[[], bool], seconds: float = 90) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def helm_release_done(output: str) -> bool:
    return re.search(r"(created|updated) +Release ", output) is not None


def team(name: str, apps: int) -> dict:
    return {
        "name": name,
        "quota": {"cpu": "1", "memory": "2Gi", "pods": 10},
        "apps": [
            {
                "name": f"svc-{i}",
                "image": f"registry.example.com/{name}/svc-{i}:1.0.0",
                "port": 8080,
                "replicas": 1,
                "route": {"host": f"svc-{i}.{name}.apps.example.com", "path": "/"},
            }
            for i in range(apps)
        ],
    }


def add_team(name: str, apps: int = 3) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        data.setdefault("paas", {}).setdefault("teams", [])
        teams = data["paas"]["teams"]
        if not any(t["name"] == "payments" for t in teams):  # dev.yaml has no teams of its own: base.yaml's stay
            base = yaml.safe_load((ROOT / "environments" / "base.yaml").read_text())
            teams[:0] = base["paas"]["teams"]
        teams.append(team(name, apps))

    return change


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory):
    assert not toolchain.missing(), "the fault suite needs the toolchain (toolchain/install.sh)"
    folder = tmp_path_factory.mktemp("faults")
    shutil.copytree(ROOT / "environments", folder / "environments", ignore=shutil.ignore_patterns(".meshinstall"))
    env = Environment(folder)
    try:
        yield env
    finally:
        env.run("destroy", "dev", "--yes")
        for name in PROCESSES:
            for pid in own_processes(name, env.dot / "clusters" / "dev"):
                os.kill(pid, signal.SIGKILL)


# --- kills and interrupts of `up` -------------------------------------------------------------------------------


# The longest wait for meshinstall's answer to an interrupt while KWOK is stopped: well inside the node leases (40 s),
# so that an interrupt that is not answered fails its test and leaves the nodes Ready for the next.
PAUSED_WAIT = 20


@contextmanager
def nodes_paused(dev) -> Iterator[None]:
    """KWOK stopped: pods are scheduled but never run, so the engine's Deployments stay in flight (the node leases,
    40 s, outlast the pause)."""
    kwok = own_processes("kwok", dev.dot / "clusters" / "dev")
    assert kwok, "the simulated cluster runs KWOK"
    for pid in kwok:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in kwok:
            os.kill(pid, signal.SIGCONT)


def test_sigkill_of_up_during_the_cluster_start(dev):
    running = dev.start("up", "dev", "--yes")
    running.wait_for(lambda _: (dev.dot / "clusters" / "dev" / "etcd.pid").is_file())
    running.process.kill()
    assert running.finish()[0] == -signal.SIGKILL
    # The engine, told by the kernel that meshinstall died, cancels: it finishes the cluster start, saves the
    # state, releases its lock and ends its plugins.
    assert eventually(lambda: not recovery.engine_processes(dev.dot / "pulumi-home")), "the engine outlived meshinstall"
    assert not dev.engine_locks()
    dev.converges()


def test_sigint_of_up_during_the_apps_cancels_and_says_what_it_changed(dev):
    dev.edit(add_team("interrupted"))
    with nodes_paused(dev):  # the interrupt reaches the engine with the team's Deployments in flight
        running = dev.start("up", "dev", "--yes")
        running.wait_for(lambda out: re.search(r"created +Namespace interrupted\b", out) is not None)
        running.process.send_signal(signal.SIGINT)
        running.wait_for(lambda out: "interrupted: the engine finishes what is in flight" in out, timeout=PAUSED_WAIT)
    code, output = running.finish()
    assert code == 130, output
    assert "interrupted after" in output and "run `meshinstall up dev` again to finish" in output, output
    assert "Traceback" not in output
    assert not dev.engine_locks(), "the lock is released"
    assert not recovery.engine_processes(dev.dot / "pulumi-home"), "plugins end with the command"
    dev.converges()


def test_sigkill_of_up_during_the_apps(dev):
    dev.edit(add_team("killed"))
    running = dev.start("up", "dev", "--yes")
    running.wait_for(lambda out: re.search(r"created +Namespace killed\b", out) is not None)
    running.process.kill()
    assert running.finish()[0] == -signal.SIGKILL
    dev.converges()


def test_a_second_interrupt_stops_at_once_and_says_what_it_leaves(dev):
    dev.edit(add_team("twice"))
    # Both interrupts must reach an engine with work in flight; on a cluster this fast the team's last changes can
    # be done before the first arrives (CI saw it), so its Deployments are kept from becoming ready.
    with nodes_paused(dev):
        running = dev.start("up", "dev", "--yes")
        running.wait_for(lambda out: re.search(r"created +Namespace twice\b", out) is not None)
        running.process.send_signal(signal.SIGINT)
        running.wait_for(lambda out: "interrupt again to stop it at once" in out, timeout=PAUSED_WAIT)
        running.process.send_signal(signal.SIGINT)
        code, output = running.finish()
    assert code == 130, output
    assert "stopped at once" in output and "meshinstall repair dev" in output, output
    assert "Traceback" not in output
    first = dev.converges()
    assert first.returncode == 0


def test_up_into_a_pipe_that_closes_early_still_finishes_its_update(dev):
    """`meshinstall up dev | head -1`: the display fails on the closed pipe, the update does not."""
    dev.edit(add_team("piped", apps=1))
    piped = subprocess.run(
        "meshinstall up dev --yes --no-verify | head -1",
        shell=True,
        cwd=dev.folder,
        env=dev.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert piped.stdout.startswith("doctor: "), piped.stdout  # the first line, before the engine's
    assert not dev.engine_locks(), "the engine finished and released its lock"
    first = dev.converges()
    assert "nothing changed since the last update" in first.stdout, first.stdout


# --- the control plane's processes ------------------------------------------------------------------------------


@pytest.mark.parametrize("process", ["kube-apiserver", "etcd"])
def test_a_control_plane_that_dies_during_up_stops_the_run_with_exit_6(dev, process):
    """Issue 28, item 1: `up` hung 21 minutes (apiserver) and 11 (etcd) until Ctrl-C. meshinstall watches the cluster
    beside the engine (stacks/cluster/watch.py: gone for DEAD_AFTER seconds) and stops the run."""
    dev.converges()
    dev.edit(add_team(f"gone-{process[:4]}"))
    with nodes_paused(dev):  # the team's Deployments stay in flight when the process dies
        running = dev.start("up", "dev", "--yes")
        running.wait_for(lambda out: re.search(rf"created +Namespace gone-{process[:4]}\b", out) is not None)
        for pid in own_processes(process, dev.dot / "clusters" / "dev"):
            os.kill(pid, signal.SIGKILL)
        code, output = running.finish(timeout=DEAD_AFTER + STOP_AFTER + 60)
    assert code == 6, output
    assert f"the simulated cluster's {process} stopped" in output, output
    assert "`meshinstall up dev` restarts the simulated cluster on its data and finishes" in output, output
    assert "Traceback" not in output
    dev.converges()


def test_a_kill_of_each_control_plane_process_is_repaired_by_the_next_up(dev):
    for name in PROCESSES:
        for pid in own_processes(name, dev.dot / "clusters" / "dev"):
            os.kill(pid, signal.SIGKILL)
        status = dev.run("cluster", "status", "dev")
        assert "stopped" in status.stdout, status.stdout
        assert not own_processes(name, dev.dot / "clusters" / "dev"), "a read-only command started nothing"
        up = dev.run("up", "dev", "--yes", "--no-verify")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "restarted it on its data" in up.stderr
        dev.assert_no_stray_process(cluster_processes=1)
    dev.converges()


def test_one_process_killed_then_two_ups_at_once(dev):
    for pid in own_processes("kube-apiserver", dev.dot / "clusters" / "dev"):
        os.kill(pid, signal.SIGKILL)
    first = dev.start("up", "dev", "--yes")
    time.sleep(0.3)
    second = dev.start("up", "dev", "--yes")
    results = sorted([first.finish(), second.finish()])
    assert results[0][0] == 0, results[0][1]
    assert results[1][0] == 8, results[1][1]
    assert "dev is busy: another meshinstall command holds its lock (`meshinstall up dev --yes` on" in results[1][1]
    assert "running)" in results[1][1]
    dev.converges()


# --- concurrent commands ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("second", "team_name"), [(("up", "dev", "--yes"), "concurrent"), (("destroy", "dev", "--yes"), "racing")]
)
def test_a_second_command_while_up_runs_is_refused_and_names_the_first(dev, second, team_name):
    dev.edit(add_team(team_name, apps=2))
    first = dev.start("up", "dev", "--yes")
    time.sleep(0.3)
    refused = dev.run(*second)
    assert refused.returncode == 8, refused.stdout + refused.stderr
    assert "holds its lock (`meshinstall up dev --yes` on" in refused.stderr and "running)" in refused.stderr, (
        refused.stderr
    )
    assert first.finish()[0] == 0
    dev.converges()


# --- what `doctor` sees and `up` clears -------------------------------------------------------------------------


def test_a_stale_engine_lock_is_named_dead_by_doctor_and_cleared_by_up(dev):
    dead = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True).stdout.strip()
    locks = dev.dot / "state" / ".pulumi" / "locks" / "organization" / "meshinstall" / "dev"
    locks.mkdir(parents=True, exist_ok=True)
    (locks / "stale.json").write_text(
        json.dumps(
            {"pid": int(dead), "username": "root", "hostname": os.uname().nodename, "timestamp": "2026-11-26T04:00:00Z"}
        )
    )
    doctor = dev.run("doctor", "dev")
    assert doctor.returncode == 4
    assert f"pid {dead}, since 2026-11-26 04:00:00 UTC, dead)" in doctor.stdout, doctor.stdout
    up = dev.run("up", "dev", "--yes")
    assert up.returncode == 0, up.stdout + up.stderr
    assert f"removed the engine's lock left by root@{os.uname().nodename} (pid {dead}" in up.stderr
    dev.converges()


def test_a_wrong_passphrase_is_found_by_doctor_and_named_by_the_engine(dev):
    wrong = {**dev.env, "MESHINSTALL_PASSPHRASE": "not-the-one"}
    doctor = dev.run("doctor", "dev", env=wrong)
    assert (
        doctor.returncode == 4 and "MI011" in doctor.stdout and "does not open this state's secrets" in doctor.stdout
    ), doctor.stdout
    refresh = dev.run("refresh", "dev", env=wrong)
    assert refresh.returncode == 2, refresh.stdout + refresh.stderr
    assert "the passphrase does not decrypt this environment's state" in refresh.stderr, refresh.stderr
    assert "code: " not in refresh.stderr


def test_a_state_file_cut_short_is_found_by_doctor_with_the_backup_to_use(dev):
    state = dev.dot / "state" / ".pulumi" / "stacks" / "meshinstall" / "dev.json"
    saved = state.read_bytes()
    state.write_bytes(saved[: len(saved) // 2])
    try:
        doctor = dev.run("doctor", "dev")
        assert doctor.returncode == 4 and "MI011" in doctor.stdout and "dev.json.bak" in doctor.stdout, doctor.stdout
        up = dev.run("up", "dev", "--yes")
        assert up.returncode == 4 and "doctor failed: MI011 (nothing was applied)" in up.stderr, up.stderr
    finally:
        state.write_bytes(saved)
    dev.converges()


def test_an_empty_secret_is_refused_before_anything_is_applied(dev):
    empty = {**dev.env, "GRAFANA_ADMIN_PASSWORD": ""}
    preview = dev.run("preview", "dev", env=empty)
    assert preview.returncode == 2, preview.stdout + preview.stderr
    assert "environment variable GRAFANA_ADMIN_PASSWORD is empty" in preview.stderr
    up = dev.run("up", "dev", "--yes", env=empty)
    assert up.returncode == 2 and "GRAFANA_ADMIN_PASSWORD is empty" in up.stdout + up.stderr


def test_secrets_are_encrypted_at_rest_in_the_simulated_clusters_etcd(dev):
    """Issue 28, item 5: etcd read directly (its v3 JSON gateway) holds no Secret in plain text."""
    dev.converges()
    ports = json.loads((dev.dot / "clusters" / "dev" / "ports.json").read_text())
    prefix = b"/registry/secrets/"
    body = json.dumps(
        {"key": base64.b64encode(prefix).decode(), "range_end": base64.b64encode(prefix[:-1] + b"0").decode()}
    ).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{ports['etcd_client']}/v3/kv/range", body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        stored = {
            base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"])
            for kv in json.loads(answer.read())["kvs"]
        }
    grafana = stored["/registry/secrets/monitoring/grafana-admin"]
    assert grafana.startswith(b"k8s:enc:secretbox:v1:key1:"), grafana[:40]
    assert not any(SECRETS["GRAFANA_ADMIN_PASSWORD"].encode() in value for value in stored.values())
    key_file = dev.dot / "clusters" / "dev" / "pki" / "encryption.json"
    assert key_file.stat().st_mode & 0o777 == 0o600


# --- destroy, and crashes during the Helm installs --------------------------------------------------------------


def gateway_replicas(n: int) -> Callable[[dict], None]:
    return lambda data: data["mesh"].setdefault("ingressGateway", {}).update(replicas=n)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs, which needs root (CI runs as root)")
def test_a_disk_full_as_the_backup_is_written_leaves_a_completed_update_with_a_warning(dev):
    """Issue 28, item 3: the engine saves the state, then its history entry and a backup. A full disk at the backup
    failed the command with "up failed" and the engine's raw output, though the update had succeeded."""
    dev.converges()
    backups = dev.dot / "state" / ".pulumi" / "backups" / "meshinstall" / "dev"
    try:
        with small_disk(backups, "64k"):  # the state (megabytes) does not fit: the backup is where the disk is full
            dev.edit(gateway_replicas(2))
            up = dev.run("up", "dev", "--yes")
            said = up.stdout + up.stderr
            assert up.returncode == 0, said
            assert "up: 1 change(s)" in up.stdout, said
            assert (
                "warning: the update is complete and its state saved, but its backup copy of the state could not be "
                "written (saving backup: "
                in up.stderr
                and "no space left on device)" in up.stderr
            ), said
            assert "up failed" not in said and len(said) < 20_000, said
            history = json.loads(dev.run("history", "dev", "--json").stdout)["updates"]
            assert history[0]["result"] == "succeeded", history[0]
    finally:
        dev.edit(gateway_replicas(1))
    dev.converges()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs, which needs root (CI runs as root)")
def test_a_full_state_folder_is_exit_9_before_anything_is_cleared_or_applied(dev, tmp_path):
    """Issue 28, item 3: a state folder on a full disk. `doctor`'s MI003 says so; `up` exits 9 (not the engine's
    exit 5) and clears nothing, not even what a dead run left (here the engine's lock of a dead process)."""
    dev.converges()
    state = dev.dot / "state"
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock = state / ".pulumi" / "locks" / "organization" / "meshinstall" / "dev" / "left-by-a-dead-run.json"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(json.dumps({"pid": dead.pid, "username": "root", "hostname": os.uname().nodename}))
    with small_disk(tmp_path / "small", f"{room_for(state) // 1024 + 4096}k") as small:
        shutil.copytree(state, small, dirs_exist_ok=True)
        subprocess.run(["mount", "--bind", str(small), str(state)], check=True)
        try:
            fill(small)  # the disk fills up
            doctor = dev.run("doctor", "dev")
            assert doctor.returncode == 4, doctor.stdout
            mi003 = doctor.stdout[doctor.stdout.index("MI003") :].split("\n")[0:3]
            assert "cannot be written (No space left on device)" in " ".join(mi003), doctor.stdout
            dev.edit(gateway_replicas(2))
            up = dev.run("up", "dev", "--yes")
            said = up.stdout + up.stderr
            assert up.returncode == 9, said
            assert "cannot be written (No space left on device)" in up.stderr and "nothing was changed" in up.stderr
            assert "removed" not in said and "cleared" not in said and "running the engine" not in said, said
            assert lock.exists(), "nothing is cleared by a command that cannot write"
        finally:
            subprocess.run(["umount", "-l", str(state)], check=False)
            dev.edit(gateway_replicas(1))
    lock.unlink()
    dev.converges()


def test_sigkill_of_destroy_in_the_middle(dev):
    running = dev.start("destroy", "dev", "--yes")
    running.wait_for(lambda out: len(re.findall(r"\bdeleted +\S", out)) >= 10)
    running.process.kill()
    assert running.finish()[0] == -signal.SIGKILL
    assert eventually(lambda: not recovery.engine_processes(dev.dot / "pulumi-home"))
    dev.converges()


def test_status_during_destroy_starts_nothing_and_destroy_leaves_nothing(dev):
    running = dev.start("destroy", "dev", "--yes")
    while running.process.poll() is None:
        for command in (("status", "dev"), ("cluster", "status", "dev"), ("preview", "dev")):
            dev.run(*command)
    code, output = running.finish()
    assert code == 0, output
    dev.assert_no_stray_process(cluster_processes=0)
    assert not (dev.dot / "clusters" / "dev").exists()


def test_a_crash_during_the_helm_installs_is_cleared_by_the_next_up(dev):
    """meshinstall, the engine and its plugins all killed at once (a machine or container crash): the engine's lock
    and a Helm release in the middle of its install are left; `up` says what it clears, then converges."""
    running = dev.start("up", "dev", "--yes")
    running.wait_for(helm_release_done)
    engine_processes = [pid for pid, _, _ in recovery.engine_processes(dev.dot / "pulumi-home")]
    for pid in [running.process.pid, *engine_processes]:
        os.kill(pid, signal.SIGKILL)
    running.finish()
    assert dev.engine_locks(), "a crashed engine leaves its lock"
    doctor = dev.run("doctor", "dev")
    assert "dead)" in doctor.stdout, doctor.stdout
    first = dev.converges()
    assert "removed the engine's lock left by" in first.stderr, first.stderr


def test_sigint_during_the_helm_installs(dev):
    assert dev.run("destroy", "dev", "--yes").returncode == 0
    running = dev.start("up", "dev", "--yes")
    running.wait_for(helm_release_done)
    running.process.send_signal(signal.SIGINT)
    code, output = running.finish()
    assert code == 130 and "interrupted after" in output and "Traceback" not in output, output
    assert not dev.engine_locks()
    dev.converges()
