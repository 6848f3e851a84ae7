"""MI012: no Helm release meshinstall installs is stuck pending or failed (a killed run leaves them so)."""

from __future__ import annotations

from ..base import Check, Context, Result, Skip, register


@register
class HelmReleasesSettled(Check):
    id = "MI012"
    title = "no Helm release is stuck pending or failed"
    phase = "doctor"
    needs_running_cluster = Skip("the simulated cluster is not running; `up` starts it", "Helm releases")

    def inspect(self, ctx: Context) -> Result:
        from ...stacks.cluster.recovery import STUCK, helm_records
        from ...stacks.program.releases import releases

        stuck = []
        for release in releases(ctx.spec).all():
            records = helm_records(ctx.api, release.namespace, release.name)
            status = records[-1][1] if records else None
            if status in STUCK:
                stuck.append(f"{release.namespace}/{release.name} is {status}")
        if stuck:
            return self.failed(
                "Helm releases",
                "; ".join(stuck),
                f"`meshinstall up {ctx.spec.named}` (or `repair`) clears their records and installs them again",
            )
        return self.passed("Helm releases", "none pending or failed")
