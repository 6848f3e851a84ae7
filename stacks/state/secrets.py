"""Resolves the spec's secret references (environment variables, files) at preview/up time."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import UsageError
from ...schemas.model import SecretRef, Spec

if TYPE_CHECKING:
    from ..program.identity import LinkerdIdentity


@dataclass(frozen=True)
class ResolvedSecrets:
    """Secret values by purpose; never printed, only handed to Pulumi as secrets."""

    grafana_password: str | None = None
    app_env: Mapping[tuple[str, str], Mapping[str, str]] = field(default_factory=dict)
    # Linkerd's identity as the spec gives it by reference: "anchor", "anchorKey", "issuer", "issuerKey" (PEM)
    identity_given: Mapping[str, str] = field(default_factory=dict)
    identity: LinkerdIdentity | None = None  # what the control plane is given (stacks/program/identity.py)


def resolve(
    spec: Spec, environ: Mapping[str, str] | None = None, teams: tuple[str, ...] | None = None, grafana: bool = True
) -> ResolvedSecrets:
    """Read every referenced secret; one error lists every missing or empty one (names only, never values): an
    empty password is a mistake, not a choice (an unset variable exported as `X=` is the usual way to make it).
    `teams` given: only those teams' apps' secrets; `grafana` False: not Grafana's password nor Linkerd's identity (a
    team's `up` reads its own secrets and no other's)."""
    missing: list[str] = []
    read = _reader(spec, os.environ if environ is None else environ, missing)
    password = spec.monitoring.grafana.admin_password
    admin = (
        read(password, "$.monitoring.grafana.adminPassword")
        if password and spec.monitoring.grafana.enabled and grafana
        else None
    )
    app_env: dict[tuple[str, str], dict[str, str]] = {}
    for i, team in enumerate(spec.paas.teams):
        if teams is not None and team.name not in teams:
            continue
        for j, app in enumerate(team.apps):
            app_env[(team.name, app.name)] = {
                name: read(ref, _where(app.source, i, j, name, ref)) for name, ref in app.secret_env.items()
            }
    given: dict[str, str] = {}
    if spec.mesh.linkerd and grafana:
        anchor, issuer = spec.mesh.identity.trust_anchor, spec.mesh.identity.issuer
        at = "$.mesh.identity"
        for name, ref, where in (
            ("anchor", anchor.certificate, f"{at}.trustAnchor.certificate"),
            ("anchorKey", anchor.key, f"{at}.trustAnchor.key"),
            ("issuer", issuer.certificate, f"{at}.issuer.certificate"),
            ("issuerKey", issuer.key, f"{at}.issuer.key"),
        ):
            if ref:
                given[name] = read(ref, where)
    if missing:
        raise UsageError("secrets are missing or empty:\n  " + "\n  ".join(missing))
    return ResolvedSecrets(admin, app_env, given)


def _where(source: str, i: int, j: int, name: str, ref: SecretRef) -> str:
    """Where a secret is referenced: the spec's JSON path, or a team's Score file and variable."""
    if source:
        return f"{source}: variable {name} (${{resources.…{ref.from_env}}})"
    return f"$.paas.teams[{i}].apps[{j}].secretEnv.{name}"


def state_password(spec: Spec, environ: Mapping[str, str] | None = None) -> str | None:
    """The state backend's password (`state.password`), or None: libpq's own variables then apply."""
    if spec.state.password is None:
        return None
    missing: list[str] = []
    value = _reader(spec, os.environ if environ is None else environ, missing)(spec.state.password, "$.state.password")
    if missing:
        raise UsageError("the state backend's password is missing or empty:\n  " + "\n  ".join(missing))
    return value


def _reader(spec: Spec, environ: Mapping[str, str], missing: list[str]) -> Callable[[SecretRef, str], str]:
    """Reads a secret reference; what is missing or empty is added to `missing` (names only, never values)."""

    def read(ref: SecretRef, where: str) -> str:
        if ref.from_env:
            if not environ.get(ref.from_env):
                state = "is empty" if ref.from_env in environ else "is not set"
                missing.append(f"{where}: environment variable {ref.from_env} {state}")
                return ""
            return environ[ref.from_env]
        path = spec.resolve_path(ref.from_file or "")
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
            if not value:
                missing.append(f"{where}: {path} is empty")
            return value
        except OSError as err:
            missing.append(f"{where}: cannot read {path} ({err.strerror})")
            return ""
        except UnicodeDecodeError:
            missing.append(f"{where}: {path} is not UTF-8 text")
            return ""

    return read


def read_one(spec: Spec, ref: SecretRef, where: str, environ: Mapping[str, str] | None = None) -> str:
    """One reference's value; UsageError naming it when it is missing or empty."""
    missing: list[str] = []
    value = _reader(spec, os.environ if environ is None else environ, missing)(ref, where)
    if missing:
        raise UsageError("a secret is missing or empty:\n  " + "\n  ".join(missing))
    return value
