"""A team's own Pulumi program (`up ENV --team T`): the workloads of its Score files, through its own identity."""

from __future__ import annotations

import pulumi

from ...components.cluster import Cluster, ClusterArgs
from ...components.manifests.app import service_host
from ...components.manifests.team_workloads import TeamWorkloadsArgs
from ...components.team_workloads import TeamWorkloads
from ..state.recorded import INPUTS_OUTPUT, READ_AT_OUTPUT, REFRESHED_OUTPUT
from .program import Recording, import_ahead


def build_team(environment: str, args: TeamWorkloadsArgs, recording: Recording | None) -> None:
    """Declare team `args.team`'s workloads on the cluster of the engine's KUBECONFIG: the team's identity, which
    holds the Roles of `meshinstall rbac ENV --team T` and nothing cluster-wide, or the platform's when its `up`
    converges the team. Not a provider input: who applies is not part of what the stack declares, so the team's
    `up` and the platform's do not undo each other's provider. The team's namespaces, quota, access and
    default-deny policies are the platform's (stacks/program/program.py)."""
    import_ahead().join()
    # Not None: the SDK would read the KUBECONFIG of meshinstall's own process into the provider's inputs.
    cluster = Cluster("cluster", ClusterArgs(kubeconfig=pulumi.Output.from_input(None)))
    TeamWorkloads(f"team-{args.team}", args, pulumi.ResourceOptions(providers={"kubernetes": cluster.provider}))
    pulumi.export("environment", environment)
    pulumi.export("team", args.team)
    pulumi.export("apps", {f"{args.team}/{app.name}": service_host(app.name, app.namespace) for app in args.apps})
    if recording:
        pulumi.export(INPUTS_OUTPUT, pulumi.Output.secret(recording.inputs))
        pulumi.export(REFRESHED_OUTPUT, recording.refreshed)
        if recording.read_at:
            pulumi.export(READ_AT_OUTPUT, recording.read_at)
