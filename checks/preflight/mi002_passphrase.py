"""MI002: the state passphrase is set."""

from __future__ import annotations

import os

from ..base import Check, Context, Result, register

VARIABLE = "MESHINSTALL_PASSPHRASE"


@register
class Passphrase(Check):
    id = "MI002"
    title = "the state passphrase is set"
    phase = "doctor"
    needs_cluster = False

    def inspect(self, ctx: Context) -> Result:
        if os.environ.get(VARIABLE):
            return self.passed(f"${VARIABLE}")
        return self.failed(f"${VARIABLE}", "not set", f"export {VARIABLE}=... (it encrypts the environment's secrets in the state)")
