"""Resolves the spec's secret references (environment variables, files) at preview/up time."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from ..errors import UsageError
from ..schemas.model import SecretRef, Spec


@dataclass(frozen=True)
class ResolvedSecrets:
    """Secret values by purpose; never printed, only handed to Pulumi as secrets."""

    grafana_password: str | None = None
    app_env: Mapping[tuple[str, str], Mapping[str, str]] = field(default_factory=dict)


def resolve(spec: Spec, environ: Mapping[str, str] | None = None) -> ResolvedSecrets:
    """Read every referenced secret; one error lists every missing or empty one (names only, never values): an
    empty password is a mistake, not a choice (an unset variable exported as `X=` is the usual way to make it)."""
    environ = os.environ if environ is None else environ
    missing: list[str] = []

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

    password = spec.monitoring.grafana.admin_password
    grafana = read(password, "$.monitoring.grafana.adminPassword") if password and spec.monitoring.grafana.enabled else None
    app_env: dict[tuple[str, str], dict[str, str]] = {}
    for i, team in enumerate(spec.paas.teams):
        for j, app in enumerate(team.apps):
            app_env[(team.name, app.name)] = {
                name: read(ref, f"$.paas.teams[{i}].apps[{j}].secretEnv.{name}") for name, ref in app.secret_env.items()
            }
    if missing:
        raise UsageError("secrets are missing or empty:\n  " + "\n  ".join(missing))
    return ResolvedSecrets(grafana, app_env)
