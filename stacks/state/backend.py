"""Where an environment's state lives, and the lock that makes the checkouts sharing it (people, CI jobs) take turns.

- `file://FOLDER`: the lock is an `flock` on `FOLDER/.meshinstall/locks/<env>.lock`, which the kernel drops when its
  holder ends, however it ends. Every checkout that reaches the folder shares it.
- `postgres://`: the lock is a session advisory lock, which the server drops when its holder's connection ends
  (however the holder ends), and a row of `meshinstall_locks` names the holder, with its heartbeat. A restart of the
  server drops the lock too, under a live holder: its `Keeper` takes it again, and a command that comes in between
  finds the row naming a holder that still runs and is refused. The password comes from `state.password`, or
  libpq's `PGPASSWORD`/`PGPASSFILE`; never from the URL.
- `s3://`: the lock is the checkout's own (`.meshinstall/locks/`); the engine's lock in the bucket keeps out a
  second writer from elsewhere.

So meshinstall's lock is never stale. The engine's own lock on the stack (`.pulumi/locks/...`: a file, or a row of
the engine's table) is left behind by a run killed together with its engine: `engine_locks` lists them, each
`stale` when its holder is dead on this host or older than STALE_AFTER, and `remove` clears one.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ...errors import EnvironmentLocked, StateBackendUnreachable
from .lock import Holder, Lease, environment_lock, holder_of, holder_record, leased

STALE_AFTER = 3600  # seconds: an engine lock this old on another host is taken as a dead run's
ENGINE_TABLE = "pulumi_state"  # the engine's table unless the URL says `?table=`
LOCK_TABLE = "meshinstall_locks"
SCHEMA_LOCK = 0x6D657368  # "mesh": serializes the creation of LOCK_TABLE
# What the backend keeps of an environment's past (pruned after each update): the newest 100 entries of its history
# (`meshinstall history`), and the newest 10 copies of its state in the history ("checkpoint") and as backups
KEEP = {"history": 100, "checkpoint": 10, "backup": 10}
MIN_FREE = 16 * 2**20  # bytes: the least free space a state folder needs for an update (a platform's state is ~3 MB)
BEAT = 5.0  # seconds between a PostgreSQL lock holder's heartbeats
FRESH = 60.0  # seconds: a holder whose lock a restart dropped is taken as alive while its heartbeat is this recent
RETAKE_WITHIN = 20.0  # seconds a holder whose lock a restart dropped tries to take it again before it stops its engine


@dataclass(frozen=True)
class EngineLock:
    """A lock the Pulumi engine wrote for a stack (`key`: its file or row), who wrote it, and when."""

    key: str
    holder: Holder
    written: datetime | None

    @property
    def age_seconds(self) -> float:
        return 0.0 if self.written is None else max(0.0, time.time() - self.written.timestamp())

    @property
    def stale(self) -> bool:
        """Left by a run that is gone: its holder is dead on this host, or the lock is older than STALE_AFTER."""
        alive = self.holder.alive()
        return alive is False or (alive is None and self.age_seconds > STALE_AFTER)

    def describe(self) -> str:
        state = "stale" if self.stale else "held"
        return f"{state}: the engine's lock by {self.holder}, {self.age_seconds / 60:.0f} min old ({self.key})"


def engine_lock(key: str, text: str, written: datetime | None = None) -> EngineLock:
    """An engine lock from its JSON (`pid`, `username`, `hostname`, `timestamp`)."""
    try:
        info = json.loads(text)
        stamp = _time(str(info.get("timestamp", ""))) or written
        since = stamp.strftime("%Y-%m-%d %H:%M:%S UTC") if stamp else "?"
        return EngineLock(
            key,
            Holder(int(info.get("pid", 0)), str(info.get("hostname", "?")), since, user=str(info.get("username", ""))),
            stamp,
        )
    except (ValueError, TypeError, AttributeError):
        return EngineLock(key, Holder(0, "?", "?"), written)


def _time(text: str) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


class Backend:
    """A state backend as meshinstall uses it beside the engine."""

    url: str  # as the engine is given it: no password

    def lock(self, environment: str) -> Any:
        """A context manager: hold the environment's lock; EnvironmentLocked naming the holder if another has it."""
        raise NotImplementedError

    def holder(self, environment: str) -> Holder | None:
        """The live holder of the environment's lock, if any."""
        raise NotImplementedError

    def engine_locks(self, project: str, stack: str) -> list[EngineLock]:
        return []

    def saved_state(self, project: str, stack: str) -> tuple[str, bytes | None] | None:
        """Where the stack's state is saved, and its bytes (None: no state yet); None when meshinstall does not read
        this backend itself (the engine's `stack export` does)."""
        return None

    def last_update(self, project: str, stack: str) -> dict[str, Any] | None:
        """The newest entry of the stack's history as the engine wrote it (`kind`, `result`, `startTime` and
        `endTime` in seconds); None when it has none. Only for a backend meshinstall reads itself."""
        raise NotImplementedError

    def remove(self, lock: EngineLock) -> None:
        raise NotImplementedError

    def check_writable(self, project: str, stack: str) -> None:
        """StateBackendUnreachable when an update could not write its state here (a full disk, a read-only folder, no
        right to write the engine's table); checked before anything is cleared or applied."""

    def prune(self, project: str, stack: str) -> int:
        """Remove the stack's history entries and copies of its state beyond those KEEP says; how many files (or rows)
        went."""
        return 0

    def describe(self) -> str:
        """What the backend is, checked where there is something to reach: its server's version
        (StateBackendUnreachable if it does not answer). Whether it can be written is `check_writable`'s."""
        return self.url


class FileBackend(Backend):
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.url = f"file://{folder}"

    def lock(self, environment: str) -> Any:
        return environment_lock(self.folder / ".meshinstall", environment)

    def holder(self, environment: str) -> Holder | None:
        return holder_of(self.folder / ".meshinstall", environment)

    def engine_locks(self, project: str, stack: str) -> list[EngineLock]:
        found = []
        for path in sorted((self.folder / ".pulumi" / "locks").glob(f"*/{project}/{stack}/*.json")):
            try:
                found.append(
                    engine_lock(str(path), path.read_text(), datetime.fromtimestamp(path.stat().st_mtime, timezone.utc))
                )
            except OSError:
                continue
        return found

    def remove(self, lock: EngineLock) -> None:
        Path(lock.key).unlink(missing_ok=True)

    def last_update(self, project: str, stack: str) -> dict[str, Any] | None:
        folder = self.folder / ".pulumi" / "history" / project / stack
        try:
            # named by the time in ns
            newest = max(
                folder.glob(f"{stack}-*.history.json"),
                key=lambda path: int(path.name[len(stack) + 1 :].split(".")[0]),
                default=None,
            )
            return json.loads(newest.read_bytes()) if newest else None
        except OSError as err:
            raise StateBackendUnreachable(f"the history in {folder} cannot be read: {err.strerror}") from err

    def saved_state(self, project: str, stack: str) -> tuple[str, bytes | None] | None:
        path = self.folder / ".pulumi" / "stacks" / project / f"{stack}.json"
        try:
            return str(path), path.read_bytes()
        except FileNotFoundError:
            return str(path), None
        except OSError as err:
            raise StateBackendUnreachable(f"the state {path} cannot be read: {err.strerror}") from err

    def check_writable(self, project: str, stack: str) -> None:
        state = self.folder / ".pulumi" / "stacks" / project / f"{stack}.json"
        existing = next((p for p in (self.folder / ".pulumi", self.folder, *self.folder.parents) if p.is_dir()), None)
        if existing is None:
            raise StateBackendUnreachable(f"no folder of {self.folder} exists: fix state.backend")
        probe = existing / f".meshinstall-write-check-{os.getpid()}"
        try:
            with open(probe, "wb") as file:  # a full disk may still take an empty file: write a block, and sync it
                file.write(b"\0" * 65536)
                file.flush()
                os.fsync(file.fileno())
        except OSError as err:
            raise StateBackendUnreachable(
                f"the state folder {existing} cannot be written ({err.strerror}): free space there, or fix its "
                "permissions or state.backend; nothing was changed"
            ) from err
        finally:
            with contextlib.suppress(OSError):  # never made on a read-only file system
                probe.unlink(missing_ok=True)
        size = state.stat().st_size if state.is_file() else 0
        needed, free = max(3 * size, MIN_FREE), _free_bytes(existing)
        if free < needed:
            raise StateBackendUnreachable(
                f"the state folder {existing} has {free / 2**20:.1f} MiB free, and an update writes up to "
                f"{needed / 2**20:.1f} MiB there (the state, its copy in the history, its backup): free space there, "
                "or move state.backend; nothing was changed"
            )

    def prune(self, project: str, stack: str) -> int:
        history = self.folder / ".pulumi" / "history" / project / stack
        backups = self.folder / ".pulumi" / "backups" / project / stack
        doomed = beyond_retention(
            [str(path) for folder in (history, backups) if folder.is_dir() for path in folder.iterdir()], stack
        )
        for path in doomed:
            Path(path).unlink(missing_ok=True)
        return len(doomed)

    def describe(self) -> str:
        return f"folder {self.folder}"  # whether it can take an update: check_writable


class LocalLockBackend(Backend):
    """A backend meshinstall does not read itself (S3): the checkout's own lock, the engine does the rest."""

    def __init__(self, url: str, lock_dir: Path) -> None:
        self.url, self.lock_dir = url, lock_dir

    def lock(self, environment: str) -> Any:
        return environment_lock(self.lock_dir, environment)

    def holder(self, environment: str) -> Holder | None:
        return holder_of(self.lock_dir, environment)


class PostgresBackend(Backend):
    def __init__(self, url: str, password: str | None) -> None:
        self.url, self.password = url, password
        parts = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qs(parts.query)
        self.table = query.pop("table", [ENGINE_TABLE])[0]
        # libpq's URI: the engine's `table` parameter is the engine's own
        self.conninfo = urllib.parse.urlunsplit(
            parts._replace(scheme="postgresql", query=urllib.parse.urlencode(query, doseq=True))
        )
        self.where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """A session with the server; any database error in the block (unreachable, wrong password, no right on a
        table) becomes StateBackendUnreachable, exit 9, instead of a traceback."""
        import psycopg

        try:
            with self.session() as db:
                yield db
        except psycopg.Error as err:
            raise StateBackendUnreachable(
                f"the state backend PostgreSQL at {self.where} cannot be used: {_first_line(err)}"
            ) from err

    def _key(self, environment: str) -> int:
        """The advisory lock's key: one per table and environment."""
        return int.from_bytes(
            hashlib.sha256(f"meshinstall/{self.table}/{environment}".encode()).digest()[:8], "big", signed=True
        )

    def session(self) -> Any:
        """A new session with the server (psycopg's errors are the caller's)."""
        import psycopg

        return psycopg.connect(
            self.conninfo,
            password=self.password,
            autocommit=True,
            connect_timeout=10,
            application_name="meshinstall",
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
        )

    @contextmanager
    def lock(self, environment: str) -> Iterator[Lease]:
        """The environment's advisory lock, kept by a `Keeper` beside the command (its heartbeat, and the lock taken
        again when a restart of the server drops it)."""
        with self.connect() as db:
            self._create_lock_table(db)
            self._take(db, environment)
            keeper = Keeper(self, environment, db)
            with leased(keeper.lease):
                try:
                    yield keeper.lease
                finally:
                    keeper.release()

    def _take(self, db: Any, environment: str) -> None:
        """Take the environment's lock on session `db` and write its row; EnvironmentLocked when another session holds
        it, or when the row names another holder that lost its lock to a restart of the server and still runs (its
        process on this host, or its heartbeat within FRESH seconds)."""
        key = self._key(environment)
        if not db.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
            holder = self._wait_for_holder(db, environment, key)
            raise EnvironmentLocked(
                f"{environment} is busy: another meshinstall command holds its lock in {self.where}"
                f"{f' ({holder})' if holder else ''}; wait for it to end"
            )
        row = db.execute(
            f"SELECT holder, extract(epoch FROM now() - beat) FROM {LOCK_TABLE} WHERE environment = %s",
            (environment,),
        ).fetchone()
        previous = Holder.of(row[0]) if row else None
        if previous is not None:
            alive, silent = previous.alive(), float(row[1])
            if alive or (alive is None and silent < FRESH):
                db.execute("SELECT pg_advisory_unlock(%s)", (key,))
                proof = "its process runs" if alive else f"its last heartbeat was {silent:.0f} s ago"
                raise EnvironmentLocked(
                    f"{environment} is busy: {previous} held its lock in {self.where} until the server dropped it "
                    f"(a restart), and still runs ({proof}); wait for it to end"
                )
        db.execute(
            f"INSERT INTO {LOCK_TABLE} (environment, holder, backend_pid) VALUES (%s, %s, pg_backend_pid()) "
            "ON CONFLICT (environment) DO UPDATE SET holder = EXCLUDED.holder, backend_pid = EXCLUDED.backend_pid, "
            "beat = now()",
            (environment, json.dumps(holder_record())),
        )

    def retake(self, db: Any, environment: str) -> tuple[bool, str | None]:
        """Take the environment's lock again on a new session `db`, after the server dropped this process's: (True,
        None) when taken, its row still naming this process; (False, None) while another session holds it and the
        row still names this process (a second command, about to refuse since this one runs); else (False, who took
        it), and the lock is lost."""
        row = db.execute(f"SELECT holder FROM {LOCK_TABLE} WHERE environment = %s", (environment,)).fetchone()
        holder = Holder.of(row[0]) if row else None
        if holder is None or not holder.is_me():
            return False, str(holder) if holder else "a command that has ended since"
        if not db.execute("SELECT pg_try_advisory_lock(%s)", (self._key(environment),)).fetchone()[0]:
            return False, None
        db.execute(
            f"UPDATE {LOCK_TABLE} SET backend_pid = pg_backend_pid(), beat = now() WHERE environment = %s",
            (environment,),
        )
        return True, None

    def beat(self, db: Any, environment: str) -> None:
        """The holder's heartbeat, on its lock's session (psycopg's error when the session is gone)."""
        db.execute(
            f"UPDATE {LOCK_TABLE} SET beat = now() WHERE environment = %s AND backend_pid = pg_backend_pid()",
            (environment,),
        )

    def release(self, db: Any, environment: str) -> None:
        db.execute(
            f"DELETE FROM {LOCK_TABLE} WHERE environment = %s AND backend_pid = pg_backend_pid()", (environment,)
        )
        db.execute("SELECT pg_advisory_unlock(%s)", (self._key(environment),))

    @staticmethod
    def _create_lock_table(db: Any) -> None:
        """Create `meshinstall_locks` once: two first commands at the same moment take turns (a bare CREATE TABLE IF
        NOT EXISTS is not safe against a concurrent one), and an existing table needs no CREATE right. A table made
        before the heartbeat gains its `beat` column."""
        has_beat = db.execute(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = 'beat'", (LOCK_TABLE,)
        ).fetchone()[0]
        if has_beat:
            return
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {LOCK_TABLE} (environment TEXT PRIMARY KEY, holder JSON NOT NULL, "
                "backend_pid INT NOT NULL, beat TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            db.execute(f"ALTER TABLE {LOCK_TABLE} ADD COLUMN IF NOT EXISTS beat TIMESTAMPTZ NOT NULL DEFAULT now()")

    def _holder_now(self, db: Any, environment: str, key: int) -> tuple[bool, Holder | None]:
        """Whether the lock is held, and its holder once the holder has written its row."""
        owner = db.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
            "AND classid = %s AND objid = %s",
            (_high(key), _low(key)),
        ).fetchone()
        if owner is None:
            return False, None
        row = db.execute(
            f"SELECT holder FROM {LOCK_TABLE} WHERE environment = %s AND backend_pid = %s", (environment, owner[0])
        ).fetchone()
        return True, (Holder.of(row[0]) if row else None)

    def _wait_for_holder(self, db: Any, environment: str, key: int) -> Holder | None:
        """A holder that has just taken the lock writes its row a moment later: wait for it, briefly."""
        for _ in range(20):
            held, holder = self._holder_now(db, environment, key)
            if holder or not held:
                return holder
            time.sleep(0.1)
        return None

    def holder(self, environment: str) -> Holder | None:
        with self.connect() as db:
            if db.execute("SELECT to_regclass(%s)", (LOCK_TABLE,)).fetchone()[0] is None:
                return None
            return self._holder_now(db, environment, self._key(environment))[1]

    def engine_locks(self, project: str, stack: str) -> list[EngineLock]:
        with self.connect() as db:
            if db.execute("SELECT to_regclass(%s)", (self.table,)).fetchone()[0] is None:
                return []
            # keys start with the database's name
            rows = db.execute(
                f"SELECT key, data->>'data', updated_at FROM {self.table} WHERE key LIKE %s ORDER BY key",
                (f"%.pulumi/locks/%/{project}/{stack}/%.json",),
            ).fetchall()
        return [engine_lock(key, _decoded(data), written) for key, data, written in rows]  # rows hold {"data": base64}

    def remove(self, lock: EngineLock) -> None:
        with self.connect() as db:
            db.execute(f"DELETE FROM {self.table} WHERE key = %s", (lock.key,))

    def last_update(self, project: str, stack: str) -> dict[str, Any] | None:
        with self.connect() as db:
            if db.execute("SELECT to_regclass(%s)", (self.table,)).fetchone()[0] is None:
                return None
            row = db.execute(
                f"SELECT data->>'data' FROM {self.table} WHERE key LIKE %s"
                " ORDER BY length(key) DESC, key DESC LIMIT 1",  # the newest: keys end with the time in ns
                (f"%.pulumi/history/{project}/{stack}/{stack}-%.history.json",),
            ).fetchone()
        return json.loads(base64.b64decode(row[0] or "")) if row else None

    def saved_state(self, project: str, stack: str) -> tuple[str, bytes | None] | None:
        with self.connect() as db:
            if db.execute("SELECT to_regclass(%s)", (self.table,)).fetchone()[0] is None:
                return f"{self.where} table {self.table}", None
            row = db.execute(
                f"SELECT key, data->>'data' FROM {self.table} WHERE key LIKE %s",
                (f"%.pulumi/stacks/{project}/{stack}.json",),
            ).fetchone()
        if row is None:
            return f"{self.where} table {self.table}", None
        return f"{self.where} table {self.table} key {row[0]}", base64.b64decode(row[1] or "")

    def check_writable(self, project: str, stack: str) -> None:
        with self.connect() as db:
            if db.execute("SELECT to_regclass(%s)", (self.table,)).fetchone()[0] is None:
                allowed = db.execute("SELECT has_schema_privilege(current_schema(), 'CREATE')").fetchone()[0]
            else:
                allowed = db.execute(
                    "SELECT has_table_privilege(%s, 'INSERT') AND has_table_privilege(%s, 'UPDATE') "
                    "AND has_table_privilege(%s, 'DELETE')",
                    (self.table,) * 3,
                ).fetchone()[0]
        if not allowed:
            raise StateBackendUnreachable(
                f"the user of PostgreSQL at {self.where} may not write the table {self.table}: grant it INSERT, UPDATE "
                "and DELETE there (or CREATE on the schema, for the first update); nothing was changed"
            )

    def prune(self, project: str, stack: str) -> int:
        with self.connect() as db:
            if db.execute("SELECT to_regclass(%s)", (self.table,)).fetchone()[0] is None:
                return 0
            keys = [
                key
                for (key,) in db.execute(
                    f"SELECT key FROM {self.table} WHERE key LIKE %s OR key LIKE %s",
                    (f"%.pulumi/history/{project}/{stack}/%", f"%.pulumi/backups/{project}/{stack}/%"),
                ).fetchall()
            ]
            doomed = beyond_retention(keys, stack)
            if doomed:
                db.execute(f"DELETE FROM {self.table} WHERE key = ANY(%s)", (doomed,))
        return len(doomed)

    def describe(self) -> str:
        with self.connect() as db:
            version = db.execute("SHOW server_version").fetchone()[0]
        return f"PostgreSQL {version.split()[0]} at {self.where}"


class Keeper:
    """Keeps a PostgreSQL lock while its command runs: a heartbeat every BEAT seconds on the lock's session (the row's
    `beat`, which tells a command on another host that the holder lives). When the server drops the session (a
    restart drops its advisory locks with it, and a second command could then take the lock while this one's engine
    runs), the keeper takes the lock again on a new session, if no one took it in between; when another command took
    it, or the server is not back within RETAKE_WITHIN seconds, the lease is lost, and the engine under it is
    stopped (operations/steps.py `run_engine`)."""

    def __init__(self, backend: PostgresBackend, environment: str, db: Any) -> None:
        self.backend, self.environment, self.db = backend, environment, db
        self.lease = Lease(f"{environment}'s lock in PostgreSQL at {backend.where}")
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._keep, name="lock-keeper", daemon=True)
        self._thread.start()

    def _keep(self) -> None:
        import psycopg

        while not self._done.wait(BEAT):
            try:
                self.backend.beat(self.db, self.environment)
            except psycopg.Error as err:
                if self._done.is_set():
                    return
                self.lease.dropped += 1
                self._retake(_first_line(err))
                if self.lease.lost:
                    return

    def _retake(self, why: str) -> None:
        """The session is gone: take the lock again on a new one, or lose the lease."""
        import psycopg

        deadline = time.monotonic() + RETAKE_WITHIN
        while not self._done.is_set() and time.monotonic() < deadline:
            try:
                db = self.backend.session()
            except psycopg.Error:
                self._done.wait(1.0)
                continue
            try:
                taken, other = self.backend.retake(db, self.environment)
            except psycopg.Error:
                taken, other = False, None
            if taken:
                self.db.close()
                self.db = db
                return
            db.close()
            if other:
                return self.lease.lose(f"the server dropped {self.lease.where} ({why}), and {other} took it")
            self._done.wait(1.0)
        if not self._done.is_set():
            self.lease.lose(
                f"the server dropped {self.lease.where} ({why}) and was not back within {RETAKE_WITHIN:.0f} s"
            )

    def release(self) -> None:
        """Stop the heartbeat and release the lock. A session the server dropped released it already."""
        import psycopg

        self._done.set()
        self._thread.join()
        try:
            if not self.lease.lost:
                self.backend.release(self.db, self.environment)
        except psycopg.Error:
            pass
        finally:
            self.db.close()


def readable(url: str, password: str | None) -> Backend | None:
    """The backend at `url` when meshinstall reads it itself (a folder, PostgreSQL), else None."""
    if url.startswith("file://"):
        return FileBackend(Path(url[len("file://") :]))
    if url.startswith(("postgres://", "postgresql://")):
        return PostgresBackend(url, password)
    return None


def _free_bytes(folder: Path) -> int:
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


def beyond_retention(keys: list[str], stack: str) -> list[str]:
    """Of a stack's history and backups (files or keys), those beyond the newest KEEP entries of each kind."""
    found: dict[str, list[tuple[int, str]]] = {kind: [] for kind in KEEP}
    for key in keys:
        kind, stamp = _kind_and_stamp(key.rsplit("/", 1)[-1], stack)
        if kind in KEEP:
            found[kind].append((stamp, key))
    return [key for kind, entries in found.items() for _, key in sorted(entries, reverse=True)[KEEP[kind] :]]


def _kind_and_stamp(name: str, stack: str) -> tuple[str, int]:
    """What the engine named a file of a stack's history (`<stack>-<ns>.history.json`, `<stack>-<ns>.checkpoint.json`)
    or backups (`<stack>.<ns>.json`), and its time in ns; ("", 0) for any other name."""
    if name.startswith(f"{stack}-"):
        stamp, _, rest = name[len(stack) + 1 :].partition(".")
        kind = rest.split(".")[0]
    elif name.startswith(f"{stack}."):
        stamp, kind = name[len(stack) + 1 :].partition(".")[0], "backup"
    else:
        return "", 0
    return (kind, int(stamp)) if stamp.isdigit() else ("", 0)


def _high(key: int) -> int:
    return (key >> 32) & 0xFFFFFFFF


def _low(key: int) -> int:
    return key & 0xFFFFFFFF


def _decoded(data: str | None) -> str:
    try:
        return base64.b64decode(data or "").decode()
    except (ValueError, UnicodeDecodeError):
        return ""


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or ["?"])[0]
