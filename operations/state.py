"""The use cases of an environment's state beside `up`: its outputs and last update (`status`), the updates so far
(`history`), a way out of a lock a dead run left (`unlock`), and moving the state to another backend
(`state migrate`)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from ..errors import EngineFailed, EnvironmentLocked, UsageError
from ..schemas.json_schema import schema
from ..schemas.model import SecretRef, Spec
from ..schemas.rules import password_in
from ..stacks.engine import environment, runs
from ..stacks.state.places import PROJECT, places, state_backend
from . import upgrade
from .view import View

WHO = re.compile(r" by (\S+@\S+)$")


def status(spec: Spec) -> dict[str, Any]:
    """The environment's outputs (secrets masked), its last update, and a mesh upgrade in progress."""
    opened = environment.open_environment(spec)
    stack = opened.stack
    info = runs.status(stack)
    upgrading = upgrade.progress(stack, spec)
    if upgrading:
        info["upgrade"] = upgrading
    if spec.mesh.linkerd and info.get("lastUpdate"):
        from . import certs

        info["certificates"] = [
            {"role": c.role, "subject": c.subject, "expires": c.expires.isoformat(), "daysLeft": c.days_left}
            for c in certs.describe(opened.identity)
        ]
    return info


def history(spec: Spec, limit: int) -> list[dict[str, Any]]:
    """Past updates, newest first: when, who (the message meshinstall records, `runs.who`), what kind, the
    result, and the resource changes."""
    stack = environment.open_stack(spec)
    entries = environment.engine_call("history", lambda: stack.history(page_size=limit), stack.name) or []
    found = []
    for entry in entries[:limit]:
        who = WHO.search(entry.message or "")
        found.append(
            {
                "kind": entry.kind,
                "result": entry.result,
                "started": entry.start_time.isoformat(),
                "ended": entry.end_time.isoformat() if entry.end_time else None,
                "who": who.group(1) if who else "",
                "command": WHO.sub("", entry.message or ""),
                "changes": {k: v for k, v in (entry.resource_changes or {}).items() if v},
            }
        )
    return found


def unlock(spec: Spec, view: View, yes: bool = False) -> list[str]:
    """Clear the engine's locks on the environment's stack after showing each (asking, unless `yes`); a live
    holder's lock is refused, and so is the environment while a meshinstall command holds it (that lock ends with
    its holder)."""
    backend = state_backend(spec)
    cleared = []
    with backend.lock(spec.name):
        locks = backend.engine_locks(PROJECT, spec.name)
        for lock in locks:
            view.notice(lock.describe())
            if lock.holder.alive():
                raise EnvironmentLocked(
                    f"{spec.name}: that run is still going on this host; wait for it to end (nothing was cleared)"
                )
            question = (
                "remove it?"
                if lock.stale
                else "it is not stale: the run that holds it may still be going; remove it anyway?"
            )
            if not (yes or view.ask(question)):
                raise EnvironmentLocked(
                    f"{spec.name} stays locked: nothing was cleared (without a terminal to ask on, `--yes` clears it)"
                )
            backend.remove(lock)
            cleared.append(lock.describe())
    return cleared


def migrate(spec: Spec, to_url: str, password_env: str | None, view: View) -> dict[str, Any]:
    """Copy the environment's state, secrets still encrypted, to the backend `to_url`, under both backends' locks;
    then check with a preview that the copy needs no change. The old state is left as it was."""
    backend = schema()["properties"]["state"]["properties"]["backend"]
    if not re.match(backend["pattern"], to_url):
        raise UsageError(f"--to {to_url!r} is not a state backend URL: {backend['description']}")
    if password_in(to_url):
        raise UsageError(
            "--to holds a password; give it through --password-env VARIABLE (or libpq's PGPASSWORD/PGPASSFILE)"
        )
    if to_url.startswith("file://") and not to_url.startswith("file:///"):
        raise UsageError("--to file:// needs an absolute path (file:///...)")
    password = SecretRef(from_env=password_env) if password_env else None
    target_spec = replace(spec, state=replace(spec.state, backend=to_url, password=password))
    source, target = state_backend(spec), state_backend(target_spec)
    if places(spec).backend_url == places(target_spec).backend_url:
        raise UsageError(f"{spec.name} already keeps its state at {to_url}")
    with source.lock(spec.name), target.lock(spec.name):
        old = environment.open_environment(spec)
        deployment = environment.engine_call("export", old.stack.export_stack, spec.name)
        resources = len((deployment.deployment or {}).get("resources") or [])
        new = environment.open_environment(target_spec)
        there = len(
            (environment.engine_call("export", new.stack.export_stack, spec.name).deployment or {}).get("resources")
            or []
        )
        if there:
            raise UsageError(
                f"{to_url} already holds a state of {spec.name} with {there} resource(s); nothing was copied"
            )
        environment.engine_call("import", lambda: new.stack.import_stack(deployment), spec.name)
        view.notice(f"copied {resources} resource(s) of {spec.name} to {target.describe()}; checking it with a preview")
        preview = runs.preview(new.stack)
        if preview.changed:
            raise EngineFailed(
                f"the copy of {spec.name} at {to_url} would change {preview.changed} resource(s): {dict(preview.changes)}; "
                f"keep state.backend as it is and look at `meshinstall preview {spec.named}`"
            )
    return {"environment": spec.name, "from": source.url, "to": target.url, "resources": resources, "previewChanges": 0}
