"""Time of a canary mesh upgrade of `dev`: up at Istio 1.29.6, then `mesh.version: 1.30.3` and `up` again.

Run after `. scripts/env.sh`: `python bench/mesh_upgrade.py [--results bench/results.md]`. A copy of environments/
in a temporary folder, its own simulated cluster, destroyed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scale import header  # bench/ is on the path when this script runs

ROOT = Path(__file__).resolve().parent.parent
ENV = {
    **os.environ,
    "MESHINSTALL_PASSPHRASE": "bench",
    "GRAFANA_ADMIN_PASSWORD": "bench-grafana",
    "CHECKOUT_DB_PASSWORD": "bench-db",
}


def timed(folder: Path, *args: str) -> float:
    start = time.perf_counter()
    done = subprocess.run(["meshinstall", *args], cwd=folder, env=ENV, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"meshinstall {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    seconds = time.perf_counter() - start
    print(f"  {seconds:6.1f} s  meshinstall {' '.join(args)}", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, help="append the table to this markdown file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="meshinstall-upgrade-") as work:
        folder = Path(work)
        shutil.copytree(ROOT / "environments", folder / "environments", ignore=shutil.ignore_patterns(".meshinstall"))
        base = folder / "environments" / "base.yaml"
        base.write_text(base.read_text().replace("version: 1.30.3", "version: 1.29.6"))
        try:
            first = timed(folder, "up", "dev", "--yes")
            base.write_text(base.read_text().replace("version: 1.29.6", "version: 1.30.3"))
            preview = timed(folder, "preview", "dev")
            upgrade = timed(folder, "up", "dev", "--yes")
            again = timed(folder, "up", "dev", "--yes")
        finally:
            subprocess.run(["meshinstall", "destroy", "dev", "--yes"], cwd=folder, env=ENV, capture_output=True)
    text = "\n".join(
        [
            header("bench/mesh_upgrade.py"),
            "",
            "| step | seconds |",
            "|---|---|",
            f"| `up dev` at Istio 1.29.6 (simulated cluster created) | {first:.1f} |",
            f"| `preview dev` of the upgrade to 1.30.3 (the plan, nothing changed) | {preview:.1f} |",
            f"| `up dev`: the canary upgrade, 5 phases (install beside, 2 waves restarted and gated, gateways, removal) | {upgrade:.1f} |",
            f"| `up dev` after it (nothing to do) | {again:.1f} |",
            "",
        ]
    )
    print(text)
    if args.results:
        with open(args.results, "a") as out:
            out.write("\n" + text)


if __name__ == "__main__":
    main()
