"""A local Kubernetes control plane: etcd, kube-apiserver, controller-manager, scheduler and KWOK nodes.

The API server, controllers and scheduling are real; KWOK marks pods Running and Ready on simulated nodes and gives
LoadBalancer Services a loopback address, so no container ever runs and no traffic flows. All files (data,
certificates, kubeconfig, kwok config, logs, pids) live in one state folder, so a stopped or crashed control plane
restarts on its existing data.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

# The controller-manager's and scheduler's own API clients default to 20 and 50 requests a second, sized for a
# shared production API server; on a private one they were the bottleneck (120 Deployments took 36 s to become
# available). kwokctl's --disable-qps-limits lifts them the same way; KWOK's own client is unthrottled already.
UNTHROTTLED_CLIENT = ("--kube-api-qps=5000", "--kube-api-burst=10000")
CONTROLLER_CONCURRENCY = (
    "--concurrent-deployment-syncs=20",
    "--concurrent-replicaset-syncs=20",
    "--concurrent-namespace-syncs=20",
)
PROCESSES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
ENCRYPTION_CONFIG = "encryption.json"  # in the cluster's pki folder: the key Secrets are encrypted with in etcd
SERVICE_CIDR = "10.96.0.0/16"
# Webhook servers would be simulated pods the API server cannot call (istiod's injection webhook fails closed), so
# webhook configurations are stored but not called. ValidatingAdmissionPolicy and the built-in plugins stay on.
DISABLED_ADMISSION_PLUGINS = ("MutatingAdmissionWebhook", "ValidatingAdmissionWebhook")
KWOK_STAGES = Path(__file__).with_name("kwok-stages.yaml")


class ControlPlaneError(Exception):
    """The local control plane could not be started or reached; the message names the log to read."""


@dataclass(frozen=True)
class LocalClusterConfig:
    """What the local control plane is: where it lives, its nodes, and where its binaries are."""

    state_dir: str
    nodes: int = 3
    cpu: str = "16"
    memory: str = "64Gi"
    pods: int = 110
    kubernetes_version: str = "1.34"
    search_path: str = ""

    @property
    def kubeconfig_path(self) -> Path:
        """The admin kubeconfig the control plane writes when it starts."""
        return Path(self.state_dir) / "kubeconfig"


@dataclass(frozen=True)
class Ports:
    """Loopback ports picked free when the cluster is first created, kept for restarts."""

    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalControlPlane:
    """Starts, checks, restarts and removes one local control plane."""

    def __init__(self, config: LocalClusterConfig) -> None:
        self.config = config
        self.root = Path(config.state_dir)
        self.pki = self.root / "pki"
        self.logs = self.root / "logs"
        self.kubeconfig_path = config.kubeconfig_path

    # --- lifecycle ----------------------------------------------------------------------------------------------

    def created(self) -> bool:
        """Whether this control plane was ever started (its ports and certificates exist)."""
        return (self.root / "ports.json").is_file() and (self.pki / "ca.crt").is_file()

    def start(self) -> dict[str, Any]:
        """Start every process that is not running (or runs other arguments), then make sure the nodes are there."""
        for folder in (self.root, self.pki, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        ports = self._ports()
        self._pki()
        self._encryption()
        self._write_kubeconfig(ports)
        shutil.copyfile(KWOK_STAGES, self.root / "kwok.yaml")
        for name in PROCESSES:
            command = self._command(name, ports)
            if self._alive(name) and self._arguments(name) != command[1:]:
                self._stop(name)  # started by an older meshinstall with other flags
            recorded = self._pid(name) if self._alive(name) else None
            strays = [pid for pid in self.own_processes(name) if pid != recorded]
            if strays:  # a start that raced another, or a pid file lost: they would hold the ports
                stop_pids(strays)
            if not self._alive(name):
                self._check_port(name, ports)
                self._spawn(name, command)
                if name == "etcd":
                    self._wait(lambda: self._etcd_healthy(ports), "etcd", 60)
                if name == "kube-apiserver":
                    self._wait(lambda: self._api("GET", "/readyz", raw=True) == "ok", "kube-apiserver", 120)
        self.sync_nodes(self.config.nodes)
        return self.info()

    def info(self) -> dict[str, Any]:
        """Outputs: the kubeconfig (contents and path) and the API server address."""
        return {
            "kubeconfig": self.kubeconfig_path.read_text(encoding="utf-8"),
            "kubeconfig_path": str(self.kubeconfig_path),
            "server": f"https://127.0.0.1:{self._ports().apiserver}",
        }

    def running(self) -> bool:
        """Every process alive and the API server ready."""
        if not all(self._alive(name) for name in PROCESSES):
            return False
        try:
            return self._api("GET", "/readyz", raw=True) == "ok"
        except ControlPlaneError:
            return False

    def dead(self) -> list[str]:
        """The processes of a created control plane that are not running."""
        return [name for name in PROCESSES if not self._alive(name)]

    def current(self) -> bool:
        """Every process runs with the arguments this version starts it with (flags change between versions)."""
        ports = self._ports()
        return all(self._arguments(name) == self._command(name, ports)[1:] for name in PROCESSES)

    def ensure(self) -> bool:
        """Restart a created control plane whose processes died (reboot, crash) or run old flags; True if it had to."""
        if not self.created() or (self.running() and self.current()):
            return False
        self.stop()
        self.start()
        return True

    def stop(self) -> None:
        """Stop every process (newest first)."""
        for name in reversed(PROCESSES):
            self._stop(name)

    def remove(self) -> None:
        """Stop and delete every file of this control plane."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # --- cluster contents ---------------------------------------------------------------------------------------

    def sync_nodes(self, count: int) -> None:
        """Make exactly `count` simulated nodes exist, each with the configured capacity."""
        existing = {n["metadata"]["name"] for n in self._api("GET", "/api/v1/nodes?labelSelector=type%3Dkwok")["items"]}
        wanted = {f"kwok-node-{i}" for i in range(count)}
        for name in sorted(wanted):
            body = self._node(name)
            if name in existing:
                self._api(
                    "PATCH",
                    f"/api/v1/nodes/{name}/status",
                    {"status": body["status"]},
                    content_type="application/merge-patch+json",
                )
            else:
                self._api("POST", "/api/v1/nodes", body)
        for name in sorted(existing - wanted):
            self._api("DELETE", f"/api/v1/nodes/{name}")

    def _node(self, name: str) -> dict[str, Any]:
        capacity = {"cpu": self.config.cpu, "memory": self.config.memory, "pods": str(self.config.pods)}
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {
                    "type": "kwok",
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                },
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            },
            "status": {
                "capacity": capacity,
                "allocatable": capacity,
                "nodeInfo": {
                    "kubeletVersion": f"v{self.config.kubernetes_version}.0-kwok",
                    "architecture": "amd64",
                    "operatingSystem": "linux",
                },
            },
        }

    # --- processes ----------------------------------------------------------------------------------------------

    def _ports(self) -> Ports:
        path = self.root / "ports.json"
        if path.is_file():
            return Ports(**json.loads(path.read_text()))
        ports = Ports(*(free_port() for _ in range(6)))
        path.write_text(json.dumps(asdict(ports)))
        return ports

    def _command(self, name: str, ports: Ports) -> list[str]:
        pki, kubeconfig = self.pki, str(self.kubeconfig_path)
        etcd_url = f"http://127.0.0.1:{ports.etcd_client}"
        peer_url = f"http://127.0.0.1:{ports.etcd_peer}"
        served = [
            "--bind-address=127.0.0.1",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            *UNTHROTTLED_CLIENT,
        ]
        commands = {
            "etcd": [
                "etcd",
                "--name=default",
                f"--data-dir={self.root / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
            ],
            "kube-apiserver": [
                "kube-apiserver",
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={ports.apiserver}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--token-auth-file={pki / 'tokens.csv'}",
                f"--encryption-provider-config={pki / ENCRYPTION_CONFIG}",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=RBAC",
                "--allow-privileged=true",
                f"--cert-dir={pki}",
                "--endpoint-reconciler-type=none",
                f"--disable-admission-plugins={','.join(DISABLED_ADMISSION_PLUGINS)}",
            ],
            "kube-controller-manager": [
                "kube-controller-manager",
                f"--kubeconfig={kubeconfig}",
                "--leader-elect=false",
                f"--secure-port={ports.controller_manager}",
                *served,
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--controllers=*,-nodeipam,-cloud-node-lifecycle,-route,-service",
                *CONTROLLER_CONCURRENCY,
            ],
            "kube-scheduler": [
                "kube-scheduler",
                f"--kubeconfig={kubeconfig}",
                "--leader-elect=false",
                f"--secure-port={ports.scheduler}",
                *served,
            ],
            "kwok": [
                "kwok",
                f"--kubeconfig={kubeconfig}",
                f"--config={self.root / 'kwok.yaml'}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                "--node-lease-duration-seconds=40",
                f"--server-address=127.0.0.1:{ports.kwok}",
                "--cidr=10.0.0.1/16",
                "--node-ip=10.0.0.1",
            ],
        }
        return commands[name]

    def _spawn(self, name: str, command: list[str]) -> None:
        binary = shutil.which(command[0], path=self.config.search_path or os.environ.get("PATH"))
        if not binary:
            raise ControlPlaneError(
                f"{command[0]} not found on PATH or in the toolchain; build it with toolchain/install.sh"
            )
        # The engine's memory limit (stacks/engine/environment.py) is the engine's: the cluster, started from inside the engine
        # (it is a resource of the program), runs with Go's defaults. At 1000 apps the API server holds 2.5 GB, and
        # under the engine's 512 MiB it spent a core collecting (bench/results.md, stop 20).
        env = {k: v for k, v in os.environ.items() if k not in ("GOMEMLIMIT", "TMPDIR")}
        if name == "kwok":  # kwok also reads ~/.kwok/kwok.yaml when it exists: a HOME of its own keeps a user's out
            env["HOME"] = str(self.root)
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
        process = subprocess.Popen(
            [binary, *command[1:]],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
        log.close()
        (self.root / f"{name}.pid").write_text(str(process.pid))

    def _stop(self, name: str) -> None:
        """TERM every process of this name that is this cluster's (the recorded one and strays), then KILL."""
        stop_pids(self.own_processes(name))
        (self.root / f"{name}.pid").unlink(missing_ok=True)

    def own_processes(self, name: str) -> list[int]:
        """Processes of this cluster by their command line: the binary's name and this cluster's folder in its
        arguments (every process is started with a path under it). A process that is not its own is never touched."""
        marker = f"={self.root}/"
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                words = [w.decode(errors="replace") for w in (entry / "cmdline").read_bytes().split(b"\0")[:-1]]
            except OSError:
                continue
            if (
                words
                and os.path.basename(words[0]) == name
                and any(marker in w for w in words[1:])
                and process_running(int(entry.name))
            ):
                found.append(int(entry.name))
        return found

    def _check_port(self, name: str, ports: Ports) -> None:
        """The port a process is about to listen on must be free: another program on it is named, not stopped."""
        port = {
            "etcd": ports.etcd_client,
            "kube-apiserver": ports.apiserver,
            "kube-controller-manager": ports.controller_manager,
            "kube-scheduler": ports.scheduler,
            "kwok": ports.kwok,
        }[name]
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                raise ControlPlaneError(
                    f"port {port} of {name} is taken by a program that is not this cluster's (`ss -ltnp 'sport = :{port}'` names it); "
                    f"stop it, or remove the cluster with `meshinstall destroy`"
                ) from None

    def _pid(self, name: str) -> int | None:
        path = self.root / f"{name}.pid"
        return int(path.read_text()) if path.is_file() else None

    def _command_line(self, name: str) -> list[str] | None:
        """The command line of the recorded process, when it runs this binary (a reused pid after a reboot does not count)."""
        pid = self._pid(name)
        if not pid:
            return None
        try:
            words = [word.decode() for word in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]]
            status = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0]
        except OSError:
            return None
        return words if words and os.path.basename(words[0]) == name and status != "Z" else None

    def _alive(self, name: str) -> bool:
        return self._command_line(name) is not None

    def _arguments(self, name: str) -> list[str] | None:
        """The arguments (without the binary) the recorded process runs with, or None when it does not run."""
        words = self._command_line(name)
        return words[1:] if words else None

    def _wait(self, ready: Any, what: str, seconds: int) -> None:
        deadline = time.time() + seconds
        last: Exception | None = None
        while time.time() < deadline:
            try:
                if ready():
                    return
            except (ControlPlaneError, OSError) as err:
                last = err
            time.sleep(0.5)
        log = self.logs / f"{what.split()[0]}.log"
        raise ControlPlaneError(f"{what} was not ready after {seconds}s ({last}); see {log}")

    def _etcd_healthy(self, ports: Ports) -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{ports.etcd_client}/health", timeout=2) as response:
            return json.loads(response.read()).get("health") == "true"

    # --- credentials --------------------------------------------------------------------------------------------

    def _pki(self) -> None:
        """CA, a serving certificate for 127.0.0.1, the service-account key pair and the admin token."""
        if (self.pki / "tokens.csv").is_file():
            return

        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=self.pki)

        openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "3650",
            "-subj",
            "/CN=meshinstall-local-ca",
        )
        (self.pki / "san.cnf").write_text(
            "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc,IP:10.96.0.1\n"
        )
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "apiserver.key",
            "-out",
            "apiserver.csr",
            "-subj",
            "/CN=kube-apiserver",
        )
        openssl(
            "x509",
            "-req",
            "-in",
            "apiserver.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "apiserver.crt",
            "-days",
            "3650",
            "-extfile",
            "san.cnf",
        )
        openssl("genrsa", "-out", "sa.key", "2048")
        openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub")
        token = secrets.token_hex(24)
        (self.pki / "tokens.csv").write_text(f'{token},admin,admin,"system:masters"\n')
        for key in self.pki.glob("*.key"):
            key.chmod(0o600)
        (self.pki / "tokens.csv").chmod(0o600)

    def _encryption(self) -> None:
        """Secrets encrypted at rest in etcd, as a hardened cluster keeps them: a secretbox key of this cluster's own
        (owner-only, beside its certificates). `identity` second: a Secret a cluster wrote before it had the key is
        still read, and encrypted when next written."""
        path = self.pki / ENCRYPTION_CONFIG
        if path.is_file():
            return
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        config = {
            "apiVersion": "apiserver.config.k8s.io/v1",
            "kind": "EncryptionConfiguration",
            "resources": [
                {
                    "resources": ["secrets"],
                    "providers": [{"secretbox": {"keys": [{"name": "key1", "secret": key}]}}, {"identity": {}}],
                }
            ],
        }
        path.touch(mode=0o600)
        path.write_text(json.dumps(config, indent=1))

    def _token(self) -> str:
        return (self.pki / "tokens.csv").read_text().split(",")[0]

    def _write_kubeconfig(self, ports: Ports) -> None:
        ca = base64.b64encode((self.pki / "ca.crt").read_bytes()).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "meshinstall",
                    "cluster": {"server": f"https://127.0.0.1:{ports.apiserver}", "certificate-authority-data": ca},
                }
            ],
            "users": [{"name": "admin", "user": {"token": self._token()}}],
            "contexts": [{"name": "meshinstall", "context": {"cluster": "meshinstall", "user": "admin"}}],
            "current-context": "meshinstall",
        }
        self.kubeconfig_path.write_text(yaml.safe_dump(config))
        self.kubeconfig_path.chmod(0o600)

    def _api(
        self, method: str, path: str, body: Any = None, raw: bool = False, content_type: str = "application/json"
    ) -> Any:
        url = f"https://127.0.0.1:{self._ports().apiserver}{path}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            url,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self._token()}", "Content-Type": content_type},
        )
        context = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        try:
            with urllib.request.urlopen(request, context=context, timeout=10) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as err:
            raise ControlPlaneError(f"{method} {path}: HTTP {err.code} {err.read().decode()[:300]}") from err
        except (urllib.error.URLError, OSError) as err:
            raise ControlPlaneError(f"{method} {path}: {err}") from err
        return text if raw else json.loads(text or "{}")


def process_identity(pid: int) -> str | None:
    """`pid` and when it started (clock ticks since boot): names one process, even after its pid is used again; None
    when there is no such process."""
    try:
        return f"{pid}:{Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[19]}"
    except (OSError, IndexError):
        return None


def process_running(pid: int) -> bool:
    """Whether `pid` is a live process (not a zombie)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    except OSError:
        return False


def stop_pids(pids: list[int]) -> None:
    """TERM, then KILL what is left after a grace period."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.time() + 15
    while any(process_running(pid) for pid in pids) and time.time() < deadline:
        time.sleep(0.2)
    for pid in pids:
        if process_running(pid):
            _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
