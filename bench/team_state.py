"""How much slower `up dev` with no changes is when the state is in PostgreSQL than in the file backend.

Run after `. scripts/env.sh`: `python bench/team_state.py [--runs 3] [--results bench/results.md]`. For each backend, a
copy of environments/ in a temporary folder with its own simulated cluster: one `up dev` to create it, then `--runs`
no-change `up dev`s (their median counts), then destroy. PostgreSQL is a throwaway server (scripts/postgres.sh) on
this machine, so the ratio is the backend's own cost, without a network's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

import yaml
from mesh_upgrade import ENV, ROOT, timed  # bench/ is on the path when this script runs
from scale import header


def no_change_ups(folder: Path, state: dict, runs: int) -> tuple[float, float]:
    """The first `up dev` and the median of `runs` no-change ones, with the state where `state` says."""
    shutil.copytree(ROOT / "environments", folder / "environments", ignore=shutil.ignore_patterns(".meshinstall"))
    spec = folder / "environments" / "dev.yaml"
    data = yaml.safe_load(spec.read_text())
    data["state"] = state
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        first = timed(folder, "up", "dev", "--yes")
        return first, statistics.median(timed(folder, "up", "dev", "--yes") for _ in range(runs))
    finally:
        subprocess.run(["meshinstall", "destroy", "dev", "--yes"], cwd=folder, env=ENV, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--results", type=Path, help="append the table to this markdown file")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="meshinstall-team-", dir="/tmp"))  # the `postgres` user reaches /tmp
    os.chmod(work, 0o755)
    server = {**os.environ, "MESHINSTALL_POSTGRES_DIR": str(work / "postgres")}
    try:
        print("file backend:", flush=True)
        file_first, file_again = no_change_ups(work / "file", {"backend": "file://.meshinstall/state"}, args.runs)
        url = subprocess.run(
            [str(ROOT / "scripts" / "postgres.sh"), "start"], env=server, capture_output=True, text=True, check=True
        ).stdout.strip()
        print("PostgreSQL backend:", flush=True)
        pg_first, pg_again = no_change_ups(
            work / "pg", {"backend": url, "password": {"fromFile": str(work / "postgres" / "password")}}, args.runs
        )
    finally:
        subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop"], env=server, check=False)
        shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(
        [
            header("bench/team_state.py"),
            "",
            f"| backend | first `up dev` (s) | `up dev` with no changes, median of {args.runs} (s) |",
            "|---|---|---|",
            f"| file (`.meshinstall/state`) | {file_first:.1f} | {file_again:.1f} |",
            f"| PostgreSQL 15 on this machine | {pg_first:.1f} | {pg_again:.1f} |",
            "",
            f"A no-change `up dev` on PostgreSQL takes **{pg_again / file_again:.2f}×** the time it takes on the file backend.",
            "",
        ]
    )
    print(text)
    if args.results:
        with args.results.open("a", encoding="utf-8") as results:
            results.write("\n" + text)


if __name__ == "__main__":
    main()
