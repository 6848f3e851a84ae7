"""MI011: the environment's state is readable, opens with the passphrase, and records no interrupted operation."""

from __future__ import annotations

import os

from ..base import Check, Context, Result, Status, register


@register
class StateOpens(Check):
    id = "MI011"
    title = "the state opens with the passphrase"
    phase = "doctor"
    needs_cluster = False

    def inspect(self, ctx: Context) -> Result:
        from ...stacks import state_file
        from ...stacks.driver import PROJECT, places

        file = state_file.path(places(ctx.spec).backend_url, PROJECT, ctx.spec.name)
        if file is None:
            return self.skipped(places(ctx.spec).backend_url, "only file backends are read here; the engine reports the others")
        try:
            deployment = state_file.latest(file)
        except state_file.StateUnreadable as err:
            return self.failed(str(file), str(err), f"`cp {file}.bak {file}` puts the previous state back; then `meshinstall up {ctx.spec.name}` converges")
        if deployment is None:
            return self.skipped(str(file), "no state yet: the first `up` creates it")
        phrase = os.environ.get("MESHINSTALL_PASSPHRASE")
        if phrase and state_file.passphrase_opens(deployment, phrase) is False:
            return self.failed(str(file), "MESHINSTALL_PASSPHRASE does not open this state's secrets", "set the passphrase the environment was created with")
        pending = deployment.get("pending_operations") or []
        if pending:
            return self.result(Status.WARNING, str(file), f"{len(pending)} operation(s) of an interrupted run are pending",
                               f"`meshinstall up {ctx.spec.name}` (or `repair`) clears them and converges")
        return self.passed(str(file), f"{len(deployment.get('resources', []))} resources")
