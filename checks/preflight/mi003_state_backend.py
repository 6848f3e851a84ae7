"""MI003: the state backend answers (a PostgreSQL server's version), can take an update (a folder with room for it,
or a table this user may write), and is not locked: by a
meshinstall command (named), or by the engine's lock of a live run or a stale one (stacks/state/backend.py)."""

from __future__ import annotations

import os

from ...errors import StateBackendUnreachable, UsageError
from ..base import Check, Context, Result, register


@register
class StateBackend(Check):
    id = "MI003"
    title = "the state backend answers and is not locked"
    phase = "doctor"
    needs_cluster = False

    def inspect(self, ctx: Context) -> Result:
        from ...stacks.state.places import PROJECT, places, state_backend

        name = ctx.spec.name
        url = places(ctx.spec).backend_url
        try:
            backend = state_backend(ctx.spec)
            where = backend.describe()
            holder = backend.holder(name)
            locks = backend.engine_locks(PROJECT, name)
        except (StateBackendUnreachable, UsageError) as err:
            return self.failed(
                url,
                str(err),
                "start the server or fix state.backend, and its password (state.password, or PGPASSWORD/PGPASSFILE)",
            )
        try:
            backend.check_writable(PROJECT, name)
        except StateBackendUnreachable as err:
            return self.failed(
                where, str(err), "free space where the state is, or fix its permissions or state.backend"
            )
        if holder and holder.pid != os.getpid():
            return self.failed(where, f"{name} is being changed by {holder}", "wait for that command to end")
        for lock in locks:
            if not lock.stale:
                return self.failed(where, f"stack {name} is locked: {lock.describe()}", "wait for that update to end")
        if locks:
            lock = locks[0]
            here = lock.holder.alive() is False
            hint = (
                f"its holder is dead: `meshinstall up {name}` (or `repair`) removes the lock and finishes what it left"
                if here
                else f"if that run is gone, `meshinstall unlock {name}` shows the lock and clears it"
            )
            return self.failed(where, f"stack {name} is locked: {lock.describe()}", hint)
        return self.passed(where, "not locked")
