"""MI002: the state passphrase and every secret the spec references are set, and none is empty."""

from __future__ import annotations

import os

from ..base import Check, Context, Result, register

VARIABLE = "MESHINSTALL_PASSPHRASE"


@register
class Passphrase(Check):
    id = "MI002"
    title = "the passphrase and the spec's secrets are set"
    phase = "doctor"
    needs_cluster = False

    def inspect(self, ctx: Context) -> Result:
        from ...errors import UsageError
        from ...stacks.state.secrets import resolve

        if not os.environ.get(VARIABLE):
            return self.failed(
                f"${VARIABLE}", "not set", f"export {VARIABLE}=... (it encrypts the environment's secrets in the state)"
            )
        try:
            resolve(ctx.spec)
        except UsageError as err:
            return self.failed(
                "secrets",
                str(err).replace(":\n  ", ": ", 1).replace("\n  ", "; "),
                "set each one to its value (an empty secret is refused)",
            )
        return self.passed(f"${VARIABLE}", "and every secret the spec references")
