"""MI011: the environment's state is readable, opens with the passphrase, and records no interrupted operation."""

from __future__ import annotations

import os

from ...errors import StateBackendUnreachable, UsageError
from ..base import Check, Context, Result, Status, register


@register
class StateOpens(Check):
    id = "MI011"
    title = "the state opens with the passphrase"
    phase = "doctor"
    needs_cluster = False

    def inspect(self, ctx: Context) -> Result:
        from ...stacks.state import state_file
        from ...stacks.state.places import PROJECT, places, state_backend

        try:
            saved = state_backend(ctx.spec).saved_state(PROJECT, ctx.spec.name)
        except (StateBackendUnreachable, UsageError) as err:
            return self.skipped(places(ctx.spec).backend_url, f"the backend cannot be read (MI003): {err}")
        if saved is None:
            return self.skipped(places(ctx.spec).backend_url, "S3 is not read here; the engine reports its errors")
        where, data = saved
        try:
            deployment = state_file.latest(where, data)
        except state_file.StateUnreadable as err:
            back = (
                f"`cp {where}.bak {where}` puts"
                if where.startswith("/")
                else f"putting the engine's copy ({where}.bak) back puts"
            )
            return self.failed(
                where, str(err), f"{back} the previous state back; then `meshinstall up {ctx.spec.named}` converges"
            )
        if deployment is None:
            return self.skipped(where, "no state yet: the first `up` creates it")
        phrase = os.environ.get("MESHINSTALL_PASSPHRASE")
        if phrase and state_file.passphrase_opens(deployment, phrase) is False:
            return self.failed(
                where,
                "MESHINSTALL_PASSPHRASE does not open this state's secrets",
                "set the passphrase the environment was created with",
            )
        pending = deployment.get("pending_operations") or []
        if pending:
            return self.result(
                Status.WARNING,
                where,
                f"{len(pending)} operation(s) of an interrupted run are pending",
                f"`meshinstall up {ctx.spec.named}` (or `repair`) clears them and converges",
            )
        return self.passed(where, f"{len(deployment.get('resources', []))} resources")
