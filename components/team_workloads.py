"""A team's own stack: the workloads of its Score files, their alerts and its dashboard, in its app namespace."""

from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as k8s

from . import labels, metadata
from .app import AppDeployment
from .manifests.monitoring import alert_rules_spec
from .manifests.team_workloads import TeamWorkloadsArgs, team_dashboard


class TeamWorkloads(pulumi.ComponentResource):
    """Every workload of one team, each an AppDeployment, with the PrometheusRule of each and the team's dashboard."""

    apps: list[AppDeployment]

    def __init__(self, name: str, args: TeamWorkloadsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("meshinstall:components:TeamWorkloads", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.apps = [AppDeployment(f"{args.team}-{app.name}", app, child) for app in args.apps]
        if args.alerts is not None:
            for target in args.targets:
                k8s.apiextensions.CustomResource(
                    f"{target.team}-{target.name}-alerts",
                    api_version="monitoring.coreos.com/v1",
                    kind="PrometheusRule",
                    metadata=metadata(f"{target.name}-alerts", target.namespace, labels(app=target.name)),
                    spec=alert_rules_spec(target, args.alerts),
                    opts=child,
                )
        if args.dashboard:
            k8s.core.v1.ConfigMap(
                f"{args.team}-dashboard",
                metadata=metadata(f"meshinstall-dashboard-{args.team}", args.namespace, labels(grafana_dashboard="1")),
                data={f"meshinstall-team-{args.team}.json": json.dumps(team_dashboard(args), indent=1)},
                opts=child,
            )
        self.register_outputs({"apps": [app.name for app in args.apps]})
