"""Start-up time of the commands that must not import Pulumi: `meshinstall --version` and `validate`.

python bench/startup.py [runs]      # prints a Markdown table; results in bench/results.md
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "meshinstall --version": [sys.executable, "-m", "meshinstall.cli.main", "--version"],
    "meshinstall validate (3 environments)": [sys.executable, "-m", "meshinstall.cli.main", "validate"],
    "python -c 'import pulumi_kubernetes' (for scale)": [sys.executable, "-c", "import pulumi_kubernetes"],
}


def measure(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    print("| command | median ms | min ms | max ms |\n|---|---|---|---|")
    for name, command in COMMANDS.items():
        times = [t * 1000 for t in measure(command, runs)]
        print(f"| {name} | {statistics.median(times):.0f} | {min(times):.0f} | {max(times):.0f} |")


if __name__ == "__main__":
    main()
