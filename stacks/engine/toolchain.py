"""Finds the Pulumi engine and its plugins: on PATH, or in the toolchain cache `toolchain/install.sh` fills (without
importing the Pulumi SDK: stacks/engine/automation.py runs the engine)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from ... import search_path, toolchain_root
from ...errors import ToolchainMissing

if TYPE_CHECKING:
    from .automation import EngineCommand

REQUIRED = ("pulumi", "pulumi-language-python", "pulumi-resource-kubernetes")


def find(tool: str) -> Path | None:
    """Where `tool` is, on PATH or in the cache."""
    found = shutil.which(tool, path=search_path())
    return Path(found) if found else None


def missing() -> list[str]:
    """Engine pieces that are nowhere to be found."""
    return [tool for tool in REQUIRED if find(tool) is None]


def command() -> EngineCommand:
    """The Pulumi CLI to drive; a clear error names what is missing."""
    absent = missing()
    if absent:
        raise ToolchainMissing(
            f"not found: {', '.join(absent)}. Install Pulumi the usual way, or build the pinned toolchain offline "
            f"with `toolchain/install.sh` (it fills {toolchain_root()})."
        )
    from .automation import EngineCommand

    pulumi = find("pulumi")
    assert pulumi is not None
    return EngineCommand(root=str(pulumi.parent.parent), skip_version_check=False)


def version(pulumi: Path) -> str:
    """What `pulumi version` prints for the binary at `pulumi`, remembered in the cache by the binary's path, size and
    modification time: the engine takes 0.18 s of a core to start, as much as the rest of doctor on a 2-core machine
    (bench/results.md, stop 23). Another binary, or the same one rebuilt, is asked again."""
    binary = pulumi.resolve()
    stat = binary.stat()
    key = f"{binary} {stat.st_size} {stat.st_mtime_ns}"
    known = toolchain_root() / "engine-versions.json"
    try:
        versions = json.loads(known.read_text())
    except (OSError, ValueError):
        versions = {}
    if key not in versions:
        asked = subprocess.run([str(binary), "version"], capture_output=True, text=True, check=False, timeout=60)
        if asked.returncode != 0:
            return asked.stdout.strip()  # not remembered: MI004 reports it
        versions[key] = asked.stdout.strip()
        try:
            known.parent.mkdir(parents=True, exist_ok=True)
            written = known.with_name(f"{known.name}.{os.getpid()}")
            written.write_text(json.dumps(versions))
            written.replace(known)
        except OSError:
            pass  # a cache that cannot be written: asked again next time
    return versions[key]
