"""MI010: every chart the spec needs can be found: in the mirror, or in its repository."""

from __future__ import annotations

import urllib.request

from ..base import Check, Context, Result, register


@register
class ChartsReachable(Check):
    id = "MI010"
    title = "every chart is reachable"
    phase = "doctor"
    needs_cluster = False

    def inspect(self, ctx: Context) -> Result:
        from ...stacks.program.releases import MIRROR_VARIABLE, chart_mirror, charts_in_use, mirror_problems

        mirror, sources = chart_mirror(ctx.spec), charts_in_use(ctx.spec)
        if mirror.path is not None:
            problems = mirror_problems(ctx.spec)
        else:
            problems = [
                f"{s.name} {s.version}: {s.repository} does not answer"
                for s in sources
                if not _repository_answers(s.repository)
            ]
        target = mirror.describe()
        if problems:
            hint = (
                "add the missing archives to the mirror"
                if mirror.path
                else f"set charts.mirror or ${MIRROR_VARIABLE} to a local mirror for air-gapped installs"
            )
            return self.failed(target, "; ".join(problems), hint)
        return self.passed(target, ", ".join(f"{s.name} {s.version}" for s in sources))


def _repository_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/index.yaml", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False
