"""App teams' Score workloads at scale: `validate` of 100 teams × 10 Score files, and a team adding 100 workloads
with `up --team` against `kubectl apply --server-side` + `kubectl wait` of the same objects.

Usage: python bench/score_workloads.py [--results bench/results.md]   (after `. scripts/env.sh`)

1. validate: an environment of 100 teams, each with a folder of 10 Score files (each workload routed, with a
   canary for 2 in 10, retries, and a `service-port` dependency on the one before): `meshinstall validate`, three
   times; the first reads and validates every file, the next ones find the same files already accepted. The same
   1000 apps written inline in the spec are validated the same way, for comparison.
2. add: on a simulated cluster, an environment whose team `big` owns its workloads (one seed workload) is brought up
   (not timed). 100 Score files are added to its folder and the team runs `up ENV --team big` (its own stack); the
   objects it made are copied into a twin namespace and given to one `kubectl apply --server-side` and `kubectl wait
   --for=condition=Available` on their Deployments (16 kubectl processes at once, over 16 groups of them). The files
   are removed again (`up --team big` / `kubectl delete --wait` of the 16 groups' files, 16 at once), three rounds,
   the medians reported, as bench/scale.py does for inline apps (it runs kubectl per namespace, 16 at once).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import APP_KINDS, MESHINSTALL, Run, _median, _stream, _twin, header, kubectl_at_once, spec, timed  # noqa: E402

ROUNDS = 3
ADDED = 100
GROUPS = 16


def score_file(team: str, number: int, position: int) -> dict[str, Any]:
    """The Score form of bench/scale.py's app: 2 replicas, 10m/32Mi, routed, retries, a canary for 2 in 10, and a
    dependency on the workload before it."""
    name = f"app-{number:04d}"
    traffic: dict[str, Any] = {"timeout": "5s", "retries": {"attempts": 2, "perTryTimeout": "1s"}}
    if position < 2:
        traffic["canary"] = {"image": f"registry.example.com/{team}/{name}:1.1.0", "weight": 10}
    resources: dict[str, Any] = {
        "public": {"type": "route", "params": {"host": f"{name}.apps.example.com", "path": "/", "port": 8080}}
    }
    variables = {"LOG_LEVEL": "info"}
    if position:
        resources["before"] = {"type": "service-port", "params": {"workload": f"app-{number - 1:04d}", "port": "web"}}
        variables["BEFORE"] = "http://${resources.before.hostname}:${resources.before.port}"
    return {
        "apiVersion": "score.dev/v1b1",
        "metadata": {"name": name, "meshinstall": {"replicas": 2, "traffic": traffic}},
        "containers": {
            "main": {
                "image": f"registry.example.com/{team}/{name}:1.0.0",
                "variables": variables,
                "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
            }
        },
        "service": {"ports": {"web": {"port": 8080}}},
        "resources": resources,
    }


def write_team(folder: Path, team: str, first: int, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for position in range(count):
        number = first + position
        body = yaml.safe_dump(score_file(team, number, position), sort_keys=False)
        (folder / f"app-{number:04d}.yaml").write_text(body)


def validate_bench(work: Path) -> dict[str, list[float]]:
    """`validate` of 100 teams × 10 Score files, and of the same 1000 apps inline: three runs each."""
    (work / "environments").mkdir(parents=True)
    inline = spec(1000, with_apps=True)
    inline["metadata"]["name"] = "inline"
    (work / "environments" / "inline.yaml").write_text(yaml.safe_dump(inline, sort_keys=False))
    teams = spec(1000, with_apps=False)
    teams["metadata"]["name"] = "teams"
    for index, team in enumerate(teams["paas"]["teams"]):
        team.pop("apps")
        team["workloads"] = f"../teams/{team['name']}"
        write_team(work / "teams" / team["name"], team["name"], index * 10, 10)
    (work / "environments" / "teams.yaml").write_text(yaml.safe_dump(teams, sort_keys=False))
    times: dict[str, list[float]] = defaultdict(list)
    for name in ("teams", "inline"):
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(
                [MESHINSTALL, "validate", f"environments/{name}.yaml"], cwd=work, check=True, capture_output=True
            )
            times[name].append(time.perf_counter() - start)
    return times


class TeamAdd:
    """One team, `big`, owning its workloads on a simulated cluster."""

    def __init__(self, work: Path) -> None:
        self.work, self.log = work, work / "last.log"
        self.folder = work / "teams" / "big"
        environment = spec(ADDED, with_apps=False)
        environment["paas"]["teams"] = [
            {
                "name": "big",
                "groups": ["big-devs"],
                "quota": {"cpu": "40", "memory": "64Gi", "pods": 300},
                "workloads": "../teams/big",
            }
        ]
        (work / "environments").mkdir(parents=True)
        (work / "environments" / "scale.yaml").write_text(yaml.safe_dump(environment, sort_keys=False))
        write_team(self.folder, "big", 9000, 1)  # the seed: a team folder holds its first workload

    def meshinstall(self, *args: str) -> Run:
        return timed([MESHINSTALL, *args], self.work, self.log)

    def kubectl(self, *args: str, stdin: str | None = None) -> Run:
        return timed(["kubectl", "--kubeconfig", self.kubeconfig, *args], self.work, self.log, stdin)

    def run(self) -> dict[str, Run]:
        runs: dict[str, list[Run]] = defaultdict(list)
        self.meshinstall("up", "scale", "--yes")
        self.kubeconfig = subprocess.run(
            [MESHINSTALL, "cluster", "kubeconfig", "scale"], cwd=self.work, capture_output=True, text=True, check=True
        ).stdout.strip()
        for index in range(ROUNDS):
            write_team(self.folder, "big", 0, ADDED)
            runs["add"].append(self.meshinstall("up", "scale", "--team", "big", "--yes"))
            if index == 0:
                self.write_twins()
            apply = self.kubectl("apply", "--server-side", "-f", "apps.yaml")
            wait = self.in_groups(
                ["wait", "--for=condition=Available", "--timeout=1800s", "-n", "k-big"], "deployments"
            )
            runs["kubectl add"].append(Run(apply.seconds + wait))
            for path in self.folder.glob("app-00*.yaml"):
                path.unlink()
            runs["remove"].append(self.meshinstall("up", "scale", "--team", "big", "--yes"))
            runs["kubectl remove"].append(Run(self.in_groups(["delete", "--wait", "-f"], "files")))
        return {name: _median(done) for name, done in runs.items()}

    def in_groups(self, args: list[str], what: str) -> float:
        """`kubectl ARGS` over the twin objects in GROUPS groups, 16 at once (the Deployments by name, or one file of
        objects per group): one kubectl over 100 Deployments waits on (or deletes) them one after the other (18.5 s
        to wait on Deployments that were available sooner), which would flatter meshinstall."""
        targets = (
            [[f"deployment/{n}" for n in group] for group in self.groups]
            if what == "deployments"
            else [[str(self.work / f"group-{i}.yaml")] for i in range(len(self.groups))]
        )
        return kubectl_at_once(self.kubeconfig, args, targets, f"kubectl {args[0]} ({GROUPS} groups at once)")

    def write_twins(self) -> None:
        out = subprocess.run(
            ["kubectl", "--kubeconfig", self.kubeconfig, "get", APP_KINDS, "-n", "big", "-o", "json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        objects = [_twin(o) for o in yaml.safe_load(out)["items"] if o["metadata"]["name"].startswith("app-0")]
        objects = [o for o in objects if o["kind"] != "Secret" or not o["metadata"]["name"].startswith("default")]
        (self.work / "apps.yaml").write_text(_stream(objects))
        apps = sorted({o["metadata"]["labels"]["app"] for o in objects})
        chosen = [set(apps[i::GROUPS]) for i in range(GROUPS)]
        for i, group in enumerate(chosen):
            mine = [o for o in objects if o["metadata"]["labels"]["app"] in group]
            (self.work / f"group-{i}.yaml").write_text(_stream(mine))
        self.groups = [
            [
                o["metadata"]["name"]
                for o in objects
                if o["kind"] == "Deployment" and o["metadata"]["labels"]["app"] in g
            ]
            for g in chosen
        ]
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "k-big"}}
        self.kubectl("apply", "--server-side", "-f", "-", stdin=_stream([namespace]))


def table(validate: dict[str, list[float]], add: dict[str, Run]) -> str:
    def ratio(a: str, b: str) -> str:
        return f"{add[a].seconds / add[b].seconds:.2f}×"

    return "\n".join(
        [
            "### Score workloads: validate 100 teams × 10 files; one team adds 100 workloads (median of 3 rounds)",
            "",
            "| operation | meshinstall (s) | compared with | ratio |",
            "|---|---|---|---|",
            f"| `validate`, 100 teams × 10 Score files: first run / again | {validate['teams'][0]:.2f} / "
            f"{sorted(validate['teams'][1:])[0]:.2f} | the same 1000 apps inline: {validate['inline'][0]:.2f} / "
            f"{sorted(validate['inline'][1:])[0]:.2f} | |",
            f"| add 100 workloads: `up --team big` | {add['add'].seconds:.1f} | `apply --server-side` + `wait` "
            f"{add['kubectl add'].seconds:.1f} s | {ratio('add', 'kubectl add')} |",
            f"| remove them: `up --team big` | {add['remove'].seconds:.1f} | `delete --wait` "
            f"{add['kubectl remove'].seconds:.1f} s | {ratio('remove', 'kubectl remove')} |",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, help="append the table to this markdown file")
    parser.add_argument("--validate-only", action="store_true", help="only the validate part (no cluster)")
    args = parser.parse_args()
    os.environ.setdefault("MESHINSTALL_PASSPHRASE", "bench")
    os.environ.setdefault("GRAFANA_ADMIN_PASSWORD", "bench-grafana")
    with tempfile.TemporaryDirectory(prefix="meshinstall-score-") as folder:
        validate = validate_bench(Path(folder) / "validate")
        print(f"validate: teams {validate['teams']}, inline {validate['inline']}", flush=True)
        if args.validate_only:
            return
        team = TeamAdd(Path(folder) / "add")
        try:
            add = team.run()
        finally:
            subprocess.run([MESHINSTALL, "destroy", "scale", "--yes"], cwd=team.work, capture_output=True)
    text = f"{header('bench/score_workloads.py')}\n\n{table(validate, add)}"
    print(text)
    if args.results:
        with open(args.results, "a") as out:
            out.write("\n" + text)


if __name__ == "__main__":
    shutil.which("kubectl") or sys.exit("kubectl must be on PATH (. scripts/env.sh)")
    main()
