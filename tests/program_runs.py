"""Runs the whole program for an example environment under mocks (cached per environment)."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

from conftest import ROOT, SECRETS

from meshinstall.schemas.validate import load_spec
from meshinstall.stacks.cluster.target import ClusterTarget
from meshinstall.stacks.program import gateway_api, identity, program
from meshinstall.stacks.program.offline import Registered, run
from meshinstall.stacks.state import secrets


@cache
def resources(env: str) -> tuple[Registered, ...]:
    """Every resource the program registers for environments/<env>.yaml."""
    return registered(ROOT / "environments" / f"{env}.yaml", env)


def registered(spec_file: Path, env: str) -> tuple[Registered, ...]:
    """Every resource the program registers for the spec at `spec_file`."""
    spec = load_spec(spec_file)
    resolved = secrets.resolve(spec, SECRETS)
    if spec.mesh.linkerd:  # made for this run, as a first `up` makes it (stacks/engine/environment.py)
        resolved = replace(resolved, identity=identity.current(spec.mesh.identity, resolved.identity_given, None))
    crds = gateway_api.plan(spec, ClusterTarget.of(spec))
    return tuple(run(lambda: program.build(spec, resolved, crds), stack=env).values())


def of_type(env: str, kind: str) -> list[Registered]:
    """Resources of one type token suffix, e.g. `core/v1:Namespace`."""
    return [r for r in resources(env) if r.type.endswith(kind)]


def named(env: str, kind: str, name: str) -> Registered:
    """The one resource of `kind` with logical name `name`."""
    found = [r for r in of_type(env, kind) if r.name == name]
    assert len(found) == 1, f"expected one {kind} named {name}, found {[r.urn for r in of_type(env, kind)]}"
    return found[0]


def spec_of(env: str):
    return load_spec(ROOT / "environments" / f"{env}.yaml")


def urn_of(env: str, kind: str, name: str) -> str:
    return named(env, kind, name).urn


def path(env: str) -> Path:
    return ROOT / "environments" / f"{env}.yaml"
