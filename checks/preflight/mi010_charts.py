"""MI010: every chart the spec needs can be found: in the mirror, or in its repository."""

from __future__ import annotations

import urllib.request

import yaml

from ..base import Check, Context, Result, register


@register
class ChartsReachable(Check):
    id = "MI010"
    title = "every chart is reachable"
    phase = "doctor"
    needs_cluster = False

    def inspect(self, ctx: Context) -> Result:
        from ...stacks.program import needed_charts

        sources = needed_charts(ctx.spec)
        mirror = sources[0].mirror
        problems = []
        for source in sources:
            if mirror is not None:
                problems += _in_mirror(source)
            elif not _repository_answers(source.repository):
                problems.append(f"{source.name} {source.version}: {source.repository} does not answer")
        target = str(mirror) if mirror else "official chart repositories"
        if problems:
            hint = "add the missing charts to the mirror" if mirror else "set charts.mirror to a local mirror for air-gapped installs"
            return self.failed(target, "; ".join(problems), hint)
        return self.passed(target, ", ".join(f"{s.name} {s.version}" for s in sources))


def _in_mirror(source) -> list[str]:
    path = source.local_path()
    if path is None:
        return [f"{source.name}: neither {source.name}/ nor {source.name}-{source.version}.tgz is in the mirror"]
    chart_file = path / "Chart.yaml"
    if path.is_dir():
        try:
            version = str(yaml.safe_load(chart_file.read_text())["version"])
        except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError):
            return [f"{source.name}: {chart_file} is missing or unreadable"]
        if version != source.version:
            return [f"{source.name}: the mirror has {version}, meshinstall pins {source.version}"]
    return []


def _repository_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/index.yaml", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False
