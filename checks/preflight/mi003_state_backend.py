"""MI003: the state backend is reachable, writable and not locked."""

from __future__ import annotations

import json
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

        url = places(ctx.spec).backend_url
        if not url.startswith("file://"):
            return self.skipped(url, "only file backends are checked here; the engine reports S3/PostgreSQL errors")
        root = Path(url[len("file://"):])
        existing = next((p for p in (root, *root.parents) if p.exists()), None)
        if existing is None or not os.access(existing, os.W_OK):
            return self.failed(url, f"{existing or root} is not writable", "fix the folder's permissions or state.backend")
        locks = sorted((root / ".pulumi" / "locks").glob(f"*/{PROJECT}/{ctx.spec.name}/*.json"))
        if locks:
            holder = _holder(locks[0])
            return self.failed(url, f"stack {ctx.spec.name} is locked by {holder}", "wait for that update; if it died, remove the lock file " + str(locks[0]))
        return self.passed(url)


def _holder(lock: Path) -> str:
    try:
        info = json.loads(lock.read_text())
    except (OSError, ValueError):
        return "an unknown process"
    return f"{info.get('username', '?')}@{info.get('hostname', '?')} (pid {info.get('pid', '?')}, since {info.get('timestamp', '?')})"
