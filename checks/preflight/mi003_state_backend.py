"""MI003: the state backend is reachable, writable and not locked (and whether a lock's holder is alive)."""

from __future__ import annotations

import os
from pathlib import Path

from ..base import Check, Context, Result, register


@register
class StateBackend(Check):
    id = "MI003"
    title = "the state backend is writable and not locked"
    phase = "doctor"
    needs_cluster = False

    def inspect(self, ctx: Context) -> Result:
        from ...stacks.driver import PROJECT, places
        from ...stacks.lock import engine_locks, holder_of

        place = places(ctx.spec)
        url = place.backend_url
        holder = holder_of(place.root, ctx.spec.name)
        if holder and holder.pid != os.getpid():
            return self.failed(url, f"{ctx.spec.name} is being changed by {holder}", "wait for that command to end")
        if not url.startswith("file://"):
            return self.skipped(url, "only file backends are checked here; the engine reports S3/PostgreSQL errors")
        root = Path(url[len("file://"):])
        existing = next((p for p in (root, *root.parents) if p.exists()), None)
        if existing is None or not os.access(existing, os.W_OK):
            return self.failed(url, f"{existing or root} is not writable", "fix the folder's permissions or state.backend")
        locks = engine_locks(root, PROJECT, ctx.spec.name)
        if locks:
            lock = locks[0]
            alive = lock.holder.alive()
            hint = {
                True: "wait for that update to end",
                False: f"its holder is dead: `meshinstall up {ctx.spec.name}` (or `repair`) removes the lock and finishes what it left",
                None: f"if that run is gone, `meshinstall repair {ctx.spec.name}` asks, then removes the lock ({lock.path})",
            }[alive]
            return self.failed(url, f"stack {ctx.spec.name} is locked by {lock.holder}", hint)
        return self.passed(url)
