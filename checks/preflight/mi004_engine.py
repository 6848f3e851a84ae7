"""MI004: the Pulumi engine and plugins are installed at the pinned versions."""

from __future__ import annotations

import re

from ..base import Check, Context, Result, register

MINIMUM_CLI = (3, 272, 0)


@register
class Engine(Check):
    id = "MI004"
    title = "the Pulumi engine and plugins are installed"
    phase = "doctor"
    needs_cluster = False

    def inspect(self, ctx: Context) -> Result:
        from ...stacks.engine import toolchain

        path = toolchain.search_path()
        wanted = [*toolchain.REQUIRED, "pulumi-resource-pulumi-python"] if ctx.simulated else list(toolchain.REQUIRED)
        absent = [tool for tool in wanted if not ctx.host.run(f"PATH={path!r} command -v {tool}").succeeded]
        if absent:
            return self.failed(
                "PATH",
                f"missing: {', '.join(absent)}",
                "install Pulumi, or run toolchain/install.sh to build the pinned toolchain",
            )
        # the version of this machine's binary is remembered (stacks/engine/toolchain.py)
        if ctx.host.backend.NAME == "local":
            version = toolchain.version(toolchain.find("pulumi"))
        else:
            version = ctx.host.run(f"PATH={path!r} pulumi version").stdout.strip()
        found = tuple(int(x) for x in re.findall(r"\d+", version)[:3])
        if found < MINIMUM_CLI:
            return self.failed(
                "pulumi version",
                f"{version} is older than {'.'.join(map(str, MINIMUM_CLI))}",
                "upgrade the Pulumi CLI (toolchain/install.sh builds a matching one)",
            )
        return self.passed("pulumi version", version)
