"""What a killed or interrupted run leaves behind, found and cleared under the environment's lock.

- engine processes (pulumi and its plugins) still running for this environment;
- the engine's lock on the stack, when its holder is dead (or, asked first, when it cannot be checked);
- operations the engine had started and not recorded as finished ("pending operations");
- Helm releases stuck `pending-install`, `pending-upgrade`, `pending-rollback` or `failed`, or installed by a run
  that died before the state recorded them (their next install fails with "cannot re-use a name").

Each finding is a line for the user. Objects a dead run created are not deleted: the next `up` takes them over
(server-side apply with force for plain objects; a Helm install adopts objects annotated with its release).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import EnvironmentLocked
from ...simulator.local_control_plane import PROCESSES, process_identity
from ..state.backend import Backend
from . import kube

if TYPE_CHECKING:
    from pulumi import automation as auto

OWNER = "MESHINSTALL_RUN"  # in the engine's environment: the meshinstall process that runs it (`process_identity`)
STUCK = ("pending-install", "pending-upgrade", "pending-rollback", "failed")
Confirm = Callable[[str], bool]


def stray_engine_processes(pulumi_home: Path) -> list[tuple[int, str]]:
    """Engine processes of this environment that a run which died left: not this command's, and started by a
    meshinstall process that is gone (OWNER, proved by pid and start time on this host). The engine of a command that
    still runs is never one: EnvironmentLocked names it (a restart of a PostgreSQL state backend can drop a live
    command's lock)."""
    mine = {os.getpid(), *_descendants(os.getpid())}
    strays = []
    for pid, command, owner in engine_processes(pulumi_home):
        if pid in mine:
            continue
        if owner and process_identity(int(owner.split(":")[0])) == owner:
            raise EnvironmentLocked(
                f"the engine of meshinstall process {owner.split(':')[0]} still runs for this environment ({pid} "
                f"{command}), though its lock was dropped (a restart of the state backend's server); wait for it to "
                "end; nothing was changed"
            )
        strays.append((pid, command))
    return strays


def engine_processes(pulumi_home: Path) -> list[tuple[int, str, str]]:
    """Engine processes of this environment: pulumi and its plugins, known by their PULUMI_HOME, each with the
    meshinstall process that started it (OWNER; empty when it does not say). The simulated cluster's processes,
    started by the engine's cluster provider, inherit the same environment and are not counted."""
    wanted, owned = f"PULUMI_HOME={pulumi_home}".encode(), f"{OWNER}=".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        name = os.path.basename(words[0].decode(errors="replace")) if words else ""
        if wanted in environ and name not in PROCESSES:
            owner = next((v[len(owned) :].decode() for v in environ if v.startswith(owned)), "")
            found.append((int(entry.name), " ".join(w.decode(errors="replace") for w in words if w)[:120], owner))
    return found


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) if entry.name.isdigit() else None
        except (OSError, IndexError, ValueError):
            continue
        if parent is not None:
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def clear_stale_engine_locks(backend: Backend, project: str, stack: str, confirm: Confirm) -> list[str]:
    """Remove the engine's locks whose holder is dead on this host; ask about those on another host. A live
    holder is a real concurrent run: EnvironmentLocked names it."""
    said = []
    for lock in backend.engine_locks(project, stack):
        alive = lock.holder.alive()
        if alive:
            raise EnvironmentLocked(
                f"{stack} is being changed by the engine of {lock.holder} (its lock: {lock.key}); wait for it to end"
            )
        if alive is None and not confirm(
            f"the engine's lock on {stack} is held by {lock.holder}, {lock.age_seconds / 60:.0f} minutes old; remove it?"
        ):
            raise EnvironmentLocked(
                f"{stack} is locked by {lock.holder} (its lock: {lock.key}); if that run is gone, `meshinstall unlock {stack}` clears it; nothing was changed"
            )
        backend.remove(lock)
        said.append(f"removed the engine's lock left by {lock.holder}")
    return said


def clear_pending_operations(stack: auto.Stack) -> list[str]:
    """Drop the operations a dead run left pending; the next `up` reads the cluster and creates or takes over."""
    state = stack.export_stack()
    pending = (state.deployment or {}).get("pending_operations") or []
    if not pending:
        return []
    state.deployment["pending_operations"] = []
    stack.import_stack(state)
    return [
        f"cleared {len(pending)} operation(s) an interrupted run left pending: "
        + ", ".join(
            f"{p.get('type', '?')} {p.get('resource', {}).get('urn', '?').rsplit('::', 1)[-1]}" for p in pending[:5]
        )
        + ("…" if len(pending) > 5 else "")
    ]


def helm_records(api: Any, namespace: str, name: str) -> list[tuple[str, str]]:
    """Helm's records of a release (its Secrets, read without their data), oldest first: (Secret name, status)."""
    records = [r["metadata"] for r in kube.list_metadata(api, "v1", "secrets", f"owner=helm,name={name}", namespace)]
    records.sort(key=lambda r: int((r.get("labels") or {}).get("version", 0)))
    return [(r["name"], (r.get("labels") or {}).get("status", "?")) for r in records]


def clear_stuck_helm_releases(api: Any, wanted: dict[tuple[str, str], bool]) -> list[str]:
    """For each release meshinstall installs ((namespace, name) -> whether the state records it), remove Helm's
    records of operations that did not finish (pending or failed), and every record of a release the state does not
    know. What was deployed before stays current; a release left with no record is installed again by the next
    `up` (its refresh sees it gone), over its objects, which Helm adopts."""
    said = []
    for (namespace, name), in_state in wanted.items():
        records = helm_records(api, namespace, name)
        doomed = records if not in_state else [(record, status) for record, status in records if status in STUCK]
        if not doomed:
            continue
        for record, _ in doomed:
            kube.delete(api, "v1", "secrets", record, namespace)
        why = (
            "installed by a run the state does not record"
            if not in_state
            else "left " + ", ".join(sorted({status for _, status in doomed}))
        )
        said.append(
            f"Helm release {namespace}/{name} was {why}: cleared its record{'s' if len(doomed) > 1 else ''}; the next up installs or upgrades it again over its objects"
        )
    return said
