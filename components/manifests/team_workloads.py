"""What a team that owns its workloads applies itself (`up --team`): its apps, their alerts and its dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .app import AppArgs
from .monitoring import AlertThresholds, AppTarget, mesh_dashboard


@dataclass(frozen=True)
class TeamWorkloadsArgs:
    """A team's workloads in its app namespace, with their alerts (None: off) and a Grafana dashboard if Grafana runs."""

    team: str
    namespace: str
    apps: tuple[AppArgs, ...]
    alerts: AlertThresholds | None = None
    dashboard: bool = False

    @property
    def targets(self) -> tuple[AppTarget, ...]:
        """The apps as monitoring watches them."""
        return tuple(AppTarget(self.team, self.namespace, app.name, app.mesh) for app in self.apps)


def team_dashboard(args: TeamWorkloadsArgs) -> dict[str, Any]:
    """The team's own dashboard (Grafana reads dashboards from every namespace): the platform's, for its apps."""
    return {
        **mesh_dashboard(args.targets),
        "title": f"meshinstall: team {args.team}",
        "uid": f"meshinstall-team-{args.team}"[:40],
    }
