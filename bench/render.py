"""Time of `meshinstall render` and `meshinstall images` at N apps (bench/scale.py's dev-like spec), each a fresh
process as a user runs it.

python bench/render.py 10 100 [--runs 3]      # prints a Markdown table; results in bench/results.md
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import spec  # noqa: E402  (bench/ is not a package)

COMMANDS = {
    "render (manifests)": ["render", "scale", "--out", "out"],
    "render --format argocd": [
        "render",
        "scale",
        "--out",
        "out-argocd",
        "--format",
        "argocd",
        "--repo-url",
        "https://git.example.com/p.git",
    ],
    "images": ["images", "scale"],
}


def run(folder: Path, args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "meshinstall.cli.main", *args], cwd=folder, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("apps", type=int, nargs="+")
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    print("| apps | command | objects | median s | min s | max s |\n|---|---|---|---|---|---|")
    for apps in options.apps:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "environments").mkdir()
            (folder / "environments" / "scale.yaml").write_text(yaml.safe_dump(spec(apps, True), sort_keys=False))
            os.environ.setdefault("GRAFANA_ADMIN_PASSWORD", "unused")  # render reads no secret: a check, not a need
            for name, args in COMMANDS.items():
                times = [run(folder, args) for _ in range(options.runs)]
                objects = (
                    sum(
                        1
                        for f in (folder / "out").rglob("manifests.yaml")
                        for d in yaml.safe_load_all(f.read_text())
                        if d
                    )
                    if name.startswith("render (")
                    else ""
                )
                print(
                    f"| {apps} | {name} | {objects} | {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f} |"
                )


if __name__ == "__main__":
    main()
