"""MI001: the spec validates."""

from __future__ import annotations

from ..base import SPEC_INVALID, Check, Context, Result, register


@register
class SpecValid(Check):
    id = "MI001"
    title = "the spec validates"
    phase = "doctor"
    needs_cluster = False
    needs_spec = False  # it reports why there is none
    fatal = SPEC_INVALID  # every other check stands on the spec

    def inspect(self, ctx: Context) -> Result:
        if ctx.spec_problems:
            first = ctx.spec_problems[0]
            return self.failed(
                str(ctx.spec_path),
                f"{len(ctx.spec_problems)} problem(s), first: {first}",
                "run `meshinstall validate` and fix every problem",
            )
        return self.passed(str(ctx.spec_path))
