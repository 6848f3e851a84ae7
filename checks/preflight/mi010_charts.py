"""MI010: every chart the spec needs can be found: in the mirror, or in its repository."""

from __future__ import annotations

import urllib.error
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


# Docker Hub's registry API is not served at docker.io itself
OCI_HOSTS = {"docker.io": "registry-1.docker.io"}


def _repository_answers(url: str) -> bool:
    """A Helm repository serves its index.yaml; an OCI registry (Envoy Gateway's chart) answers at /v2/, asking for
    a token (401) before a pull, which is an answer."""
    if url.startswith("oci://"):
        host = url.removeprefix("oci://").split("/")[0]
        probe = f"https://{OCI_HOSTS.get(host, host)}/v2/"
    else:
        probe = f"{url}/index.yaml"
    try:
        with urllib.request.urlopen(probe, timeout=5) as response:
            return response.status == 200
    except urllib.error.HTTPError as err:
        return url.startswith("oci://") and err.code == 401
    except OSError:
        return False
