"""One writer per environment: the lock every changing command holds, and the engine's locks a dead run left.

meshinstall's own lock is an `flock` on `.meshinstall/locks/<env>.lock`: the kernel drops it when its holder
ends, however it ends, so it is never stale. Held, it also proves that any lock the Pulumi engine left for this
stack on this host belongs to a run that is gone.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Iterator

from ..errors import EnvironmentLocked
from ..simulator.local_control_plane import process_running


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a lock: a process on a host, since when, doing what."""

    pid: int
    host: str
    since: str
    command: str = ""
    user: str = ""

    def alive(self) -> bool | None:
        """Whether the holder still runs: None when it is on another host and cannot be checked from here."""
        if self.host != socket.gethostname():
            return None
        return process_running(self.pid)

    def __str__(self) -> str:
        what = f"`{self.command}` on " if self.command else ""
        where = f"{self.user}@{self.host}" if self.user else self.host
        state = {True: "running", False: "dead", None: "on another host, not checked"}[self.alive()]
        return f"{what}{where} (pid {self.pid}, since {self.since}, {state})"


@contextmanager
def environment_lock(root: Path, environment: str) -> Iterator[None]:
    """Hold the environment's lock for the block; EnvironmentLocked, naming the holder, when another has it."""
    path = root / "locks" / f"{environment}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EnvironmentLocked(f"{environment} is busy: another meshinstall command holds its lock {_read(handle) or ''}; wait for it to end") from None
        _write(handle)
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def holder_of(root: Path, environment: str) -> Holder | None:
    """The live holder of the environment's lock, if any (for `doctor` and `status`)."""
    path = root / "locks" / f"{environment}.lock"
    if not path.is_file():
        return None
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(handle)
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def _write(handle: IO[str]) -> None:
    handle.truncate(0)
    since = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    command = " ".join(["meshinstall", *sys.argv[1:]])
    handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": since, "command": command}))
    handle.flush()


def _read(handle: IO[str]) -> Holder | None:
    handle.seek(0)
    try:
        info = json.loads(handle.read() or "null")
        return Holder(int(info["pid"]), str(info["host"]), str(info["since"]), str(info.get("command", "")))
    except (ValueError, TypeError, KeyError):
        return None


# --- the engine's own locks (file backends) ---------------------------------------------------------------------


@dataclass(frozen=True)
class EngineLock:
    """A lock file the Pulumi engine wrote for a stack, and who wrote it."""

    path: Path
    holder: Holder

    @property
    def age_seconds(self) -> float:
        try:
            return time.time() - self.path.stat().st_mtime
        except OSError:
            return 0.0


def engine_locks(backend_dir: Path, project: str, stack: str) -> list[EngineLock]:
    """The engine's locks on `stack` in a file backend (`.pulumi/locks/<org>/<project>/<stack>/*.json`)."""
    found = []
    for path in sorted((backend_dir / ".pulumi" / "locks").glob(f"*/{project}/{stack}/*.json")):
        try:
            info = json.loads(path.read_text())
            holder = Holder(int(info.get("pid", 0)), str(info.get("hostname", "?")), str(info.get("timestamp", "?")), user=str(info.get("username", "")))
        except (OSError, ValueError, TypeError):
            holder = Holder(0, "?", "?")
        found.append(EngineLock(path, holder))
    return found
