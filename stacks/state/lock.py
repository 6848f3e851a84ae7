"""One writer per environment: the `flock` every changing command holds (stacks/state/backend.py says where), and who
holds it. The kernel drops it when its holder ends, however it ends, so it is never stale. Held, it also proves that
any lock the Pulumi engine left for this stack on this host belongs to a run that is gone.

A lock held is a `Lease`. A lock in a database can be lost under its holder (a restart of the server drops a session's
locks); the lease then says so, and whoever runs the engine under it (operations/steps.py `run_engine`) stops it.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from ...errors import EnvironmentLocked, StateBackendUnreachable


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a lock: a process on a host, since when, doing what."""

    pid: int
    host: str
    since: str
    command: str = ""
    user: str = ""

    @classmethod
    def of(cls, info: object) -> Holder | None:
        """The holder a lock record names (`holder_record`'s shape, or its JSON text); None when it is not one."""
        try:
            info = json.loads(info) if isinstance(info, str) else info
            return cls(
                int(info["pid"]),
                str(info["host"]),
                str(info["since"]),
                str(info.get("command", "")),
                str(info.get("user", "")),
            )  # type: ignore[index, union-attr]
        except (ValueError, TypeError, KeyError):
            return None

    def is_me(self) -> bool:
        return self.pid == os.getpid() and self.host == socket.gethostname()

    def alive(self) -> bool | None:
        """Whether the holder still runs: None when it is on another host and cannot be checked from here."""
        if self.host != socket.gethostname():
            return None
        # not at the top: a command loads this module (through stacks/state/passphrase.py) before the key's derivation starts
        from ...simulator.local_control_plane import process_running

        return process_running(self.pid)

    def __str__(self) -> str:
        what = f"`{self.command}` on " if self.command else ""
        where = f"{self.user}@{self.host}" if self.user else self.host
        state = {True: "running", False: "dead", None: "on another host, not checked"}[self.alive()]
        return f"{what}{where} (pid {self.pid}, since {self.since}, {state})"


class Lease:
    """The environment's lock as this command holds it. `dropped` counts the times its database dropped it (a restart
    of the server), each then taken again or lost; `lost` says why, once it is lost for good: another command took
    it, or the database did not come back. A `flock` is never dropped."""

    def __init__(self, where: str = "") -> None:
        self.where = where
        self.lost: str | None = None
        self.dropped = 0
        self._stops: list[Callable[[], object]] = []
        self._mutex = threading.Lock()

    @contextmanager
    def guarding(self, stop: Callable[[], object]) -> Iterator[Lease]:
        """For the block, `stop` is called when the lease is lost (at once, if it already is)."""
        with self._mutex:
            self._stops.append(stop)
            lost = self.lost
        if lost:
            stop()
        try:
            yield self
        finally:
            with self._mutex:
                self._stops.remove(stop)

    def lose(self, why: str) -> None:
        with self._mutex:
            self.lost = why
            stops = list(self._stops)
        for stop in stops:
            stop()


HELD: ContextVar[Lease | None] = ContextVar("held", default=None)  # the lease of the lock this command holds


def held() -> Lease:
    """The lease of the lock this command holds (one never lost when it holds none)."""
    return HELD.get() or Lease()


@contextmanager
def leased(lease: Lease) -> Iterator[Lease]:
    """Make `lease` the one `HELD` gives for the block."""
    token = HELD.set(lease)
    try:
        yield lease
    finally:
        HELD.reset(token)


@contextmanager
def environment_lock(root: Path, environment: str) -> Iterator[Lease]:
    """Hold the environment's lock for the block; EnvironmentLocked, naming the holder, when another has it."""
    path = root / "locks" / f"{environment}.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (closed by the `with` below)
    except OSError as err:
        raise StateBackendUnreachable(f"the lock {path} cannot be written: {err.strerror}") from err
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _wait_for_holder(handle)
            raise EnvironmentLocked(
                f"{environment} is busy: another meshinstall command holds its lock{f' ({holder})' if holder else ''}; wait for it to end"
            ) from None
        try:
            _write(handle)
        except OSError as err:
            raise StateBackendUnreachable(
                f"the lock {path} cannot be written ({err.strerror}): free space there, or fix its permissions; "
                "nothing was changed"
            ) from err
        try:
            with leased(Lease(str(path))) as lease:
                yield lease
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


def holder_record() -> dict[str, object]:
    """Who this process is, as a lock records it: pid, host, user, since, command."""
    since = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "user": getpass.getuser(),
        "since": since,
        "command": " ".join(["meshinstall", *sys.argv[1:]]),
    }


def _write(handle: IO[str]) -> None:
    """The holder's record, written past the file object's buffer: on a full disk the write fails here, and nothing is
    left in a buffer to fail again when the file is closed."""
    handle.seek(0)
    os.ftruncate(handle.fileno(), 0)
    os.pwrite(handle.fileno(), json.dumps(holder_record()).encode(), 0)


def _wait_for_holder(handle: IO[str]) -> Holder | None:
    """A holder that has just taken the lock writes its name a moment later: wait for it, briefly."""
    for _ in range(20):
        holder = _read(handle)
        if holder:
            return holder
        time.sleep(0.05)
    return None


def _read(handle: IO[str]) -> Holder | None:
    handle.seek(0)
    return Holder.of(handle.read() or "null")
