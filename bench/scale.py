"""meshinstall against `kubectl apply --server-side` + `kubectl wait` for the same N apps, on one simulated API server.

Usage: python bench/scale.py N [--results bench/results.md]   (after `. scripts/env.sh`: PATH and the chart mirror)

One run, in a temporary folder:
  1. an environment with N/10 teams and no apps is brought up (not timed: the platform is there before);
  2. `validate` of the N-app spec; N apps are added (10 per team, 2 of them canaries, every app routed, with retries
     and allowFrom): `up`;
  3. the app objects meshinstall made are read back (after the first add), copied into twin namespaces (`k-<team>`,
     made untimed), and given to one `kubectl apply --server-side` then `kubectl wait --for=condition=Available` on
     their Deployments (one wait per namespace, 16 at once);
  4. up to ADD_RUNS_UP_TO apps, the apps are removed on both sides (`up` without them / `kubectl delete --wait` per
     namespace, 16 at once) and steps 2-3 repeated, ADD_RUNS rounds in all, the medians reported;
  5. no-change runs, each three times, in turn, the median reported: `up --no-refresh --no-verify`, `kubectl apply
     --server-side` again, default `up`; then `preview`;
  6. the apps removed as in step 4 (the median of all removals reported); `destroy`.
Peak RSS is sampled every 0.2 s: the driver (the `meshinstall` process, which also runs the inline Pulumi program)
and the engine (the sum of its child processes: pulumi, the language host, the Kubernetes provider, helm; not the
simulated cluster's processes, which the first `up` starts as children of its cluster provider), and `pulumi` alone.
`meshinstall` is the entry point installed beside this Python (not a version manager's shim found first on PATH, which
adds 0.08 s to each command). The table goes to stdout and, with --results, is appended to the results file with the machine, date and commit.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any

import psutil
import yaml

from meshinstall.simulator.local_control_plane import PROCESSES

ROOT = Path(__file__).resolve().parent.parent
TEAM_SIZE = 10
QUOTA_PODS = 30  # a team's 10 apps of 2 replicas and 2 canaries of 1 fit, with room
BENCH_LABEL = "meshinstall.bench/copy"
INSTALLED = Path(sys.executable).with_name("meshinstall")
MESHINSTALL = str(INSTALLED) if INSTALLED.exists() else "meshinstall"
NO_CHANGE_RUNS = 3  # a no-change run takes a second or less: one slow start of a process would decide a single one
# Adding and removing the apps, on both sides, in ADD_RUNS rounds up to ADD_RUNS_UP_TO apps, the medians reported: at
# 100 apps one round's ratio ranged from 1.50x to 1.82x, mostly with kubectl's side (9.3-12.9 s, stop 25).
ADD_RUNS = 3
ADD_RUNS_UP_TO = 100
APP_KINDS = "serviceaccounts,secrets,deployments,services,destinationrules,virtualservices,authorizationpolicies"
SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink")


def add_rounds(apps: int) -> int:
    return ADD_RUNS if apps <= ADD_RUNS_UP_TO else 1


def spec(apps: int, with_apps: bool) -> dict[str, Any]:
    """A dev-like environment with ceil(apps/10) teams; with `with_apps`, 10 apps each (2 canaries per team)."""
    teams = max(1, -(-apps // TEAM_SIZE))
    return {
        "apiVersion": "meshinstall/v1",
        "kind": "MeshSpec",
        "metadata": {"name": "scale", "description": f"bench/scale.py with {apps} apps"},
        "cluster": {
            "provider": "simulated",
            "kubernetesVersion": "1.34",
            "nodes": 3 + 2 * -(-teams * QUOTA_PODS // 250),  # the quotas fit twice: the twin namespaces have them too
            "nodeCapacity": {"cpu": "64", "memory": "256Gi", "pods": 250},
        },
        "mesh": {
            "provider": "istio",
            "version": "1.30.3",
            "mtls": "strict",
            "ingressGateway": {"enabled": True, "replicas": 1, "serviceType": "LoadBalancer"},
            "resources": {"istiod": {"cpu": "200m", "memory": "512Mi"}},
        },
        "monitoring": {
            "prometheus": {"enabled": True, "retention": "2d", "storage": "5Gi"},
            "grafana": {"enabled": True, "adminPassword": {"fromEnv": "GRAFANA_ADMIN_PASSWORD"}},
            "kiali": {"enabled": True},
            "tracing": {"enabled": True, "backend": "jaeger"},
            "alerts": {"enabled": True},
        },
        "paas": {
            "podSecurity": "baseline",
            "domain": "apps.example.com",
            "gateway": {"hosts": ["*.apps.example.com"]},
            "teams": [team(t, apps, with_apps) for t in range(teams)],
        },
        "state": {"backend": "file://.meshinstall/state"},
    }


def team(index: int, apps: int, with_apps: bool) -> dict[str, Any]:
    name = f"team-{index:03d}"
    count = min(TEAM_SIZE, apps - index * TEAM_SIZE) if with_apps else 0
    return {
        "name": name,
        "groups": [f"{name}-devs"],
        "quota": {"cpu": "4", "memory": "8Gi", "pods": QUOTA_PODS},
        "apps": [app(name, index * TEAM_SIZE + a, a) for a in range(count)],
    }


def app(team_name: str, number: int, position: int) -> dict[str, Any]:
    name = f"app-{number:04d}"
    traffic: dict[str, Any] = {"timeout": "5s", "retries": {"attempts": 2, "perTryTimeout": "1s"}}
    if position < 2:
        traffic["canary"] = {"image": f"registry.example.com/{team_name}/{name}:1.1.0", "weight": 10}
    return {
        "name": name,
        "image": f"registry.example.com/{team_name}/{name}:1.0.0",
        "port": 8080,
        "replicas": 2,
        "resources": {"cpu": "10m", "memory": "32Mi"},
        "route": {"host": f"{name}.apps.example.com", "path": "/"},
        "allowFrom": [f"app-{number - 1:04d}"] if position else [],
        "traffic": traffic,
    }


class PeakRss:
    """Samples a process and its descendants: peak RSS of the process itself, of the sum of its engine children
    (pulumi, plugins, helm), and of the `pulumi` engine and the Kubernetes provider alone. The simulated cluster's processes are not counted:
    the `up` that creates the cluster starts them as children of its cluster provider."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.driver = self.engine = self.pulumi = self.provider = 0
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while True:
            try:
                driver = self.process.memory_info().rss
                children = [(_name(c), _rss(c)) for c in self.process.children(recursive=True)]
            except psutil.Error:
                return
            engine = sum(rss for name, rss in children if name not in PROCESSES)
            pulumi = max((rss for name, rss in children if name == "pulumi"), default=0)
            provider = max((rss for name, rss in children if name == "pulumi-resource-kubernetes"), default=0)
            self.driver, self.engine = max(self.driver, driver), max(self.engine, engine)
            self.pulumi, self.provider = max(self.pulumi, pulumi), max(self.provider, provider)
            time.sleep(0.2)


def _name(process: psutil.Process) -> str:
    try:
        return process.name()
    except psutil.Error:
        return ""


def _rss(process: psutil.Process) -> int:
    try:
        return process.memory_info().rss
    except psutil.Error:
        return 0


@dataclass
class Run:
    seconds: float
    driver_mib: int = 0
    engine_mib: int = 0
    pulumi_mib: int = 0
    provider_mib: int = 0


def timed(command: list[str], cwd: Path, log: Path, stdin: str | None = None) -> Run:
    """Run `command`, fail loudly with its log's end if it fails; wall time and peak RSS."""
    start = time.perf_counter()
    with open(log, "w") as out:
        child = subprocess.Popen(
            command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.PIPE, text=True
        )
        peak = PeakRss(child.pid)
        child.communicate(stdin)
    run = Run(time.perf_counter() - start, peak.driver >> 20, peak.engine >> 20, peak.pulumi >> 20, peak.provider >> 20)
    if child.returncode:
        sys.exit(f"{' '.join(command)} failed ({child.returncode}):\n" + "\n".join(log.read_text().splitlines()[-30:]))
    shown = [Path(command[0]).name, *(a for a in command[1:] if not a.startswith("--kubeconfig") and "/" not in a)][:4]
    print(f"  {run.seconds:7.1f} s  {' '.join(shown)}", flush=True)
    return run


class Bench:
    def __init__(self, apps: int, work: Path) -> None:
        self.apps, self.work = apps, work
        (work / "environments").mkdir()
        self.spec_file = work / "environments" / "scale.yaml"
        self.log = work / "last.log"

    def write_spec(self, with_apps: bool) -> None:
        self.spec_file.write_text(yaml.safe_dump(spec(self.apps, with_apps), sort_keys=False))

    def meshinstall(self, *args: str) -> Run:
        return timed([MESHINSTALL, *args], self.work, self.log)

    def kubectl(self, *args: str, stdin: str | None = None) -> Run:
        return timed(["kubectl", "--kubeconfig", self.kubeconfig, *args], self.work, self.log, stdin)

    @functools.cached_property
    def kubeconfig(self) -> str:
        """Asked once: each `meshinstall cluster kubeconfig` is a command's start (0.2 s of a core), which inside
        kubectl's timings would flatter meshinstall."""
        return subprocess.run(
            [MESHINSTALL, "cluster", "kubeconfig", "scale"], cwd=self.work, capture_output=True, text=True, check=True
        ).stdout.strip()

    def get(self, kinds: str, selector: str) -> list[dict[str, Any]]:
        out = subprocess.run(
            ["kubectl", "--kubeconfig", self.kubeconfig, "get", kinds, "-A", "-l", selector, "-o", "json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return json.loads(out)["items"]

    def twins(self) -> tuple[str, list[dict[str, Any]]]:
        """The team objects (a YAML stream) and the app objects meshinstall made, copied into `k-<namespace>`."""
        teams = [f"team-{t:03d}" for t in range(max(1, -(-self.apps // TEAM_SIZE)))]
        namespaces = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"k-{t}", "labels": {BENCH_LABEL: "true"}}}
            for t in teams
        ]
        team_objects = self.get("resourcequotas,limitranges,roles,rolebindings,networkpolicies", "meshinstall.dev/team")
        app_objects = self.get(APP_KINDS, "app,meshinstall.dev/team")
        return _stream(namespaces + [_twin(o) for o in team_objects]), [_twin(o) for o in app_objects]

    def wait_available(self) -> float:
        return self.per_namespace(
            ["wait", "--for=condition=Available", "deployments", "--all", "--timeout=1800s", "-n"],
            "kubectl wait --for=condition=Available",
        )

    def per_namespace(self, args: list[str], what: str) -> float:
        """`kubectl <args> <team>` for every twin namespace, 16 at once (a namespace or its file of app objects):
        one kubectl over all of them checks objects one after the other (10 s to `wait` on 60 Deployments that are
        already available), which would flatter meshinstall."""
        teams = [f"k-team-{t:03d}" for t in range(max(1, -(-self.apps // TEAM_SIZE)))]
        targets = [[str(self.work / f"{t}.yaml") if args[-1] == "-f" else t] for t in teams]
        return kubectl_at_once(self.kubeconfig, args, targets, f"{what} (per namespace, 16 at once)")

    def run(self) -> dict[str, Run]:
        runs: dict[str, list[Run]] = defaultdict(list)
        self.write_spec(with_apps=False)
        print(f"{self.apps} apps in {self.work}", flush=True)
        self.meshinstall("up", "scale", "--yes")
        self.write_spec(with_apps=True)
        validate = self.meshinstall("validate", str(self.spec_file))
        rounds = add_rounds(self.apps)
        for index in range(rounds):
            self.write_spec(with_apps=True)
            runs["add"].append(self.meshinstall("up", "scale", "--yes"))
            if index == 0:
                self.write_twins()
            apply = self.kubectl("apply", "--server-side", "-f", "apps.yaml")
            runs["kubectl add"].append(Run(apply.seconds + self.wait_available()))
            if index < rounds - 1:
                self.remove(runs)
        for _ in range(NO_CHANGE_RUNS):
            runs["fast no change"].append(self.meshinstall("up", "scale", "--yes", "--no-refresh", "--no-verify"))
            runs["kubectl no change"].append(self.kubectl("apply", "--server-side", "-f", "apps.yaml"))
            runs["no change"].append(self.meshinstall("up", "scale", "--yes"))
        preview = self.meshinstall("preview", "scale")
        self.remove(runs)
        return {name: _median(done) for name, done in runs.items()} | {
            "validate": validate,
            "preview": preview,
            "destroy": self.meshinstall("destroy", "scale", "--yes"),
        }

    def write_twins(self) -> None:
        """The app objects meshinstall made, as kubectl's files (all, and one per namespace); the twin namespaces."""
        team_objects, app_objects = self.twins()
        (self.work / "apps.yaml").write_text(_stream(app_objects))
        for namespace in {o["metadata"]["namespace"] for o in app_objects}:
            (self.work / f"{namespace}.yaml").write_text(
                _stream([o for o in app_objects if o["metadata"]["namespace"] == namespace])
            )
        self.kubectl("apply", "--server-side", "-f", "-", stdin=team_objects)

    def remove(self, runs: dict[str, list[Run]]) -> None:
        """The apps removed: `up` without them, and `kubectl delete --wait` of their twins."""
        self.write_spec(with_apps=False)
        runs["remove"].append(self.meshinstall("up", "scale", "--yes"))
        runs["kubectl remove"].append(Run(self.per_namespace(["delete", "--wait", "-f"], "kubectl delete --wait")))


def kubectl_at_once(kubeconfig: str, args: list[str], targets: list[list[str]], what: str) -> float:
    """`kubectl ARGS TARGET` for every target, 16 at once; the wall time (exits with kubectl's error if one fails)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        runs = list(
            pool.map(
                lambda target: subprocess.run(
                    ["kubectl", "--kubeconfig", kubeconfig, *args, *target], capture_output=True, text=True
                ),
                targets,
            )
        )
    failed = [r.stderr for r in runs if r.returncode]
    if failed:
        sys.exit(f"kubectl {args[0]} failed: {failed[0]}")
    seconds = time.perf_counter() - start
    print(f"  {seconds:7.1f} s  {what}", flush=True)
    return seconds


def _median(runs: list[Run]) -> Run:
    """The median time of the runs, with the highest peak RSS of any of them."""
    seconds = sorted(run.seconds for run in runs)[len(runs) // 2]
    return Run(seconds, *(max(getattr(run, field.name) for run in runs) for field in fields(Run)[1:]))


def _twin(obj: dict[str, Any]) -> dict[str, Any]:
    """The same object in the twin namespace, without what the server filled in."""
    meta = obj["metadata"]
    labels = {**meta.get("labels", {}), BENCH_LABEL: "true"}
    annotations = {
        k: v
        for k, v in meta.get("annotations", {}).items()
        if not k.startswith(("pulumi.com/", "deployment.kubernetes.io/"))
    }
    twin = {k: v for k, v in obj.items() if k != "status"}
    twin["metadata"] = {
        **{k: v for k, v in meta.items() if k not in SERVER_FIELDS},
        "namespace": f"k-{meta['namespace']}",
        "labels": labels,
        "annotations": annotations,
    }
    if obj["kind"] == "Service":
        twin["spec"] = {k: v for k, v in obj["spec"].items() if k not in ("clusterIP", "clusterIPs")}
    return twin


def _stream(objects: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False)


def table(apps: int, r: dict[str, Run]) -> str:
    def ratio(a: str, b: str) -> str:
        return f"{r[a].seconds / r[b].seconds:.2f}×"

    rows = [
        (
            "add the apps: `up`",
            r["add"].seconds,
            f"`apply --server-side` + `wait` {r['kubectl add'].seconds:.1f} s",
            ratio("add", "kubectl add"),
        ),
        (
            "no change: `up --no-refresh --no-verify`",
            r["fast no change"].seconds,
            f"`apply --server-side` {r['kubectl no change'].seconds:.1f} s",
            ratio("fast no change", "kubectl no change"),
        ),
        (
            "no change: `up` (doctor, refresh, verify)",
            r["no change"].seconds,
            f"`apply --server-side` {r['kubectl no change'].seconds:.1f} s",
            ratio("no change", "kubectl no change"),
        ),
        ("`preview`, no change", r["preview"].seconds, "", ""),
        (
            "remove the apps: `up`",
            r["remove"].seconds,
            f"`delete --wait` {r['kubectl remove'].seconds:.1f} s",
            ratio("remove", "kubectl remove"),
        ),
        ("`destroy` (the whole environment)", r["destroy"].seconds, "", ""),
        ("`validate` of the spec", r["validate"].seconds, "", ""),
    ]
    rounds = add_rounds(apps)
    measured = "one round" if rounds == 1 else f"median of {rounds} rounds"
    lines = [
        f"### N = {apps} apps ({_count(-(-apps // TEAM_SIZE), 'team')}; adding and removing: {measured})",
        "",
        "| operation | meshinstall (s) | kubectl, same objects | ratio |",
        "|---|---|---|---|",
        *(f"| {name} | {seconds:.1f} | {other} | {rt} |" for name, seconds, other, rt in rows),
        f"| peak RSS, driver / engine with plugins (of which `pulumi`, the Kubernetes provider) | {_peak(r, 'driver_mib')} / "
        f"{_peak(r, 'engine_mib')} ({_peak(r, 'pulumi_mib')}, {_peak(r, 'provider_mib')}) | | |",
        "",
    ]
    return "\n".join(lines)


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}{'s' if number != 1 else ''}"


def _peak(runs: dict[str, Run], field: str) -> str:
    """The highest of one RSS figure over all runs, and which run reached it."""
    name, run = max(runs.items(), key=lambda item: getattr(item[1], field))
    return f"{getattr(run, field)} MiB ({name})"


def header(script: str = "bench/scale.py") -> str:
    """The line above a results table: the script, the date, the commit and the machine."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    cores, memory = os.cpu_count(), psutil.virtual_memory().total >> 30
    return f"`{script}`, {date.today()}, commit {commit}, {platform.machine()} {cores} cores {memory} GiB, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("apps", type=int)
    parser.add_argument("--results", type=Path, help="append the table to this markdown file")
    args = parser.parse_args()
    os.environ.setdefault("MESHINSTALL_PASSPHRASE", "bench")
    os.environ.setdefault("GRAFANA_ADMIN_PASSWORD", "bench-grafana")
    with tempfile.TemporaryDirectory(prefix="meshinstall-scale-") as folder:
        bench = Bench(args.apps, Path(folder))
        try:
            results = bench.run()
        finally:
            subprocess.run(["meshinstall", "destroy", "scale", "--yes"], cwd=folder, capture_output=True)
    text = f"{header()}\n\n{table(args.apps, results)}"
    print(text)
    if args.results:
        with open(args.results, "a") as out:
            out.write("\n" + text)


if __name__ == "__main__":
    main()
