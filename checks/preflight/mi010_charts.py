"""MI010: every chart the spec needs can be found: in the mirror, or in its repository."""

from __future__ import annotations

import tarfile
import urllib.request
from pathlib import Path

import yaml

from ..base import Check, Context, Result, register


@register
class ChartsReachable(Check):
    id = "MI010"
    title = "every chart is reachable"
    phase = "doctor"
    needs_cluster = False

    def inspect(self, ctx: Context) -> Result:
        from ...stacks.releases import MIRROR_VARIABLE, chart_mirror, gateway_api_source, releases

        mirror = chart_mirror(ctx.spec)
        sources = list(dict.fromkeys(release.chart for release in releases(ctx.spec).all()))
        problems = []
        for source in sources:
            if mirror.path is not None:
                problems += _in_mirror(source)
            elif not _repository_answers(source.repository):
                problems.append(f"{source.name} {source.version}: {source.repository} does not answer")
        crds = gateway_api_source(ctx.spec)
        if crds and mirror.path is not None and not Path(crds).is_file():
            problems.append(f"the Gateway API CRDs: {Path(crds).name} is not in the mirror")
        target = mirror.describe()
        if problems:
            hint = "add the missing archives to the mirror" if mirror.path else f"set charts.mirror or ${MIRROR_VARIABLE} to a local mirror for air-gapped installs"
            return self.failed(target, "; ".join(problems), hint)
        return self.passed(target, ", ".join(f"{s.name} {s.version}" for s in sources))


def _in_mirror(source) -> list[str]:
    """The archive is there and its Chart.yaml names the pinned version."""
    path = source.local_path()
    if path is None:
        return [f"{source.name}: {source.mirror_path.name} is not in the mirror"]
    try:
        with tarfile.open(path) as archive:
            member = next(m for m in archive.getmembers() if m.name.count("/") == 1 and m.name.endswith("/Chart.yaml"))
            version = str(yaml.safe_load(archive.extractfile(member).read())["version"])
    except (OSError, StopIteration, tarfile.TarError, KeyError, TypeError, AttributeError, yaml.YAMLError):
        return [f"{source.name}: {path} is not a readable chart archive"]
    if version != source.version:
        return [f"{source.name}: {path.name} holds version {version}, meshinstall pins {source.version}"]
    return []


def _repository_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/index.yaml", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False
