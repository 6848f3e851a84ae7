"""The Pulumi program run offline, without an engine or a cluster: Pulumi's mocks answer every registration with
its inputs, and each is recorded as the engine would see it. `meshinstall render` writes what it records (the
objects `up` would apply), and the tests read the program through it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks


@dataclass
class Registered:
    """One resource registration as the engine would see it."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    parent: str
    dependencies: list[str]  # explicit `depends_on` and those that flow in through inputs
    provider: str
    stack_frames: int = 0  # the Python stack sent with the registration (the state keeps it)


@dataclass
class Recorder(pulumi.runtime.Mocks):
    """Mocks that answer every resource with its inputs, and remember them."""

    resources: dict[str, Registered] = field(default_factory=dict)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ == "kubernetes:helm.sh/v3:Release":
            state["status"] = {"status": "deployed", "name": args.inputs.get("name")}
        if args.typ == "pulumi-python:dynamic:Resource":  # what the simulated cluster's provider returns
            state.update(
                kubeconfig="apiVersion: v1\nkind: Config\n", kubeconfig_path=f"{args.inputs['state_dir']}/kubeconfig"
            )
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that also keeps parents, dependencies and providers."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(recorder)
        self.recorder = recorder

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = pulumi.runtime.rpc.deserialize_properties(request.object)
            through_inputs = {urn for deps in request.propertyDependencies.values() for urn in deps.urns}
            dependencies = sorted(set(request.dependencies) | through_inputs)
            self.recorder.resources[response.urn] = Registered(
                response.urn,
                request.type,
                request.name,
                inputs,
                request.parent,
                dependencies,
                request.provider,
                len(request.stackTrace.frames),
            )
        return response


def run(program: Callable[[], Any], stack: str = "test") -> dict[str, Registered]:
    """Run `program` under mocks and return every registered resource by URN."""
    recorder = Recorder()
    pulumi.runtime.set_mocks(
        recorder, project="meshinstall", stack=stack, preview=False, monitor=RecordingMonitor(recorder)
    )

    @pulumi.runtime.test
    def body() -> None:
        program()

    body()
    return recorder.resources
