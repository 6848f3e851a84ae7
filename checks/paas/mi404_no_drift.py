"""MI404: nothing meshinstall owns has drifted from the spec: every object is as the last update left them
(stacks/engine/unchanged.py), or else a refreshing preview shows no change."""

from __future__ import annotations

from ..base import Check, Context, Result, register


@register
class NoDrift(Check):
    id = "MI404"
    title = "nothing meshinstall owns has drifted"
    phase = "verify"

    def inspect(self, ctx: Context) -> Result:
        from ...stacks.engine import environment, runs, unchanged

        opened = environment.open_environment(ctx.spec, refresh=True)
        decision = unchanged.nothing_to_do(opened, refresh=True)
        if decision.done:  # the spec and every object are as the last update left them: no refreshing preview needed
            return self.passed(
                f"stack {ctx.spec.name} ({decision.done.changes['same']} resources as the last update left them)"
            )
        events: list = []
        outcome = runs.preview(opened.stack, on_event=events.append, refresh=decision.refreshes(True))
        changed = sorted(
            {
                e.resource_pre_event.metadata.urn.rsplit("::", 1)[-1]
                for e in events
                if e.resource_pre_event and e.resource_pre_event.metadata.op.value not in ("same", "read", "refresh")
            }
        )
        target = f"stack {ctx.spec.name} (preview{' --refresh' if decision.refreshes(True) else ''})"
        if outcome.changed:
            return self.failed(
                target,
                f"{outcome.changed} change(s): " + ", ".join(changed[:8]),
                "run `meshinstall up` to restore the spec, or put the change in the spec",
            )
        return self.passed(target)
