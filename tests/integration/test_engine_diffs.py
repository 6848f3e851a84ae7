"""The engine as meshinstall runs it (stacks/engine/environment.py `engine_env`): it asks whether recorded resources changed
concurrently, not one resource after the other."""

from __future__ import annotations

from pathlib import Path

import pytest
from pulumi import automation as auto
from pulumi.dynamic import Resource

from meshinstall.stacks.engine import toolchain
from meshinstall.stacks.engine.automation import Workspace
from meshinstall.stacks.engine.environment import Places, engine_env

pytestmark = pytest.mark.integration

SLOW_DIFF_SECONDS = 1.0


# The engine's provider process gets the provider by value only for what `__main__` defines; this test module is not
# importable there.
SLOW_DIFF = f"""
import time
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider

class SlowDiff(ResourceProvider):
    \"\"\"Writes when each of its diffs starts and ends into its resource's file, and takes {SLOW_DIFF_SECONDS} s for each.\"\"\"

    def create(self, props):
        return CreateResult(props["name"], props)

    def diff(self, _id, old, new):
        with open(new["log"], "a") as log:
            log.write(f"start {{time.time()}}\\n")
        time.sleep({SLOW_DIFF_SECONDS})
        with open(new["log"], "a") as log:
            log.write(f"end {{time.time()}}\\n")
        return DiffResult(changes=False)
"""
namespace = {"__name__": "__main__"}
exec(SLOW_DIFF, namespace)
SlowDiff = namespace["SlowDiff"]


class Probe(Resource):
    """A resource whose diffs are slow."""

    def __init__(self, name: str, log: Path) -> None:
        super().__init__(SlowDiff(), name, {"name": name, "log": str(log)})


def test_the_engine_diffs_recorded_resources_at_the_same_time(tmp_path: Path):
    log = tmp_path / "diffs.log"
    place = Places(tmp_path, tmp_path / "work", tmp_path / "home", f"file://{tmp_path / 'state'}")
    for folder in (place.work_dir, place.pulumi_home, tmp_path / "state"):
        folder.mkdir()

    def program() -> None:
        for name in ("a", "b", "c"):
            Probe(name, log)

    workspace = Workspace(
        saved=False,
        work_dir=str(place.work_dir),
        pulumi_home=str(place.pulumi_home),
        pulumi_command=toolchain.command(),
        env_vars=engine_env(place, "passphrase"),
        secrets_provider="passphrase",
        program=program,
        project_settings=auto.ProjectSettings(
            name="diffs", runtime="python", backend=auto.ProjectBackend(place.backend_url)
        ),
    )
    stack = auto.Stack.create_or_select("dev", workspace)
    stack.up(color="never")  # creates: no diff yet
    assert not log.exists()
    stack.up(color="never")  # the three recorded resources are diffed

    times = [line.split() for line in log.read_text().splitlines()]
    starts = sorted(float(t) for kind, t in times if kind == "start")
    ends = sorted(float(t) for kind, t in times if kind == "end")
    assert len(starts) == len(ends) == 3
    assert starts[-1] < ends[0], f"each diff waited for the one before it: {times}"  # all three were under way at once
