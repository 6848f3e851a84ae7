"""The operations layer: one typed function per use case, called by `cli/`, owning the order of its steps and
returning what it did.

- `apply`: preview, up, repair, refresh, destroy;
- `upgrade`: a change of mesh.version (its plan, a canary upgrade's waves, an in-place upgrade's restarts);
- `checks`: doctor and verify, and the checks as steps of a run;
- `state`: status, history, unlock, state migrate;
- `certs`: Linkerd's identity certificates, shown and rotated;
- `describe`: the read-only ones that open no state (rbac, the cluster's kubeconfig and status, versions);
- `team`: a team's own `preview`/`up` (`--team`), and what the platform's `up` and `destroy` do with teams' stacks;
- `ownership`: CODEOWNERS from the specs; `score_export`: a team's inline apps written as Score files;
- `steps`: what the use cases share; `view`: what they show and ask through.

A use case that opens an environment's state starts with `begin`: the spec is validated (exit 3 before any other
work) and the passphrase's key derivation started (stacks/state/passphrase.py). The modules above are loaded on first
use, after that, so their imports (0.3 s: the cluster client, the engine's side) run beside the derivation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from ..errors import SpecInvalid, SpecProblem, UsageError
from ..schemas import environment_files, resolve_environment

if TYPE_CHECKING:
    from ..schemas.model import Spec
    from . import apply, certs, checks, describe, state, team, upgrade  # noqa: F401

USE_CASES = ("apply", "certs", "checks", "describe", "state", "team", "upgrade")


def __getattr__(name: str) -> ModuleType:
    """The use-case modules, loaded on first use."""
    if name in USE_CASES:
        return import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load(env: str | Path) -> Spec:
    """The validated spec of environment `env` (a name or a path); SpecInvalid lists every problem."""
    from ..schemas.validate import load_spec  # with the first spec, not at the start of every command (`--version`)

    spec = load_spec(resolve_environment(str(env)))
    return replace(spec, given_as=str(env))


def begin(env: str) -> Spec:
    """The validated spec of a use case that opens the environment's state, with its key derivation started."""
    from ..stacks.state.passphrase import derive_key_ahead  # light: the state's files, not the engine's side

    spec = load(env)
    derive_key_ahead(spec)
    return spec


@dataclass(frozen=True)
class Validated:
    """The environments that validated, and every problem of those that did not."""

    valid: tuple[str, ...]
    problems: tuple[SpecProblem, ...]


def validate(files: tuple[Path, ...] = ()) -> Validated:
    """Validate spec `files` as given (every environment in ./environments when none are given), all of them at once:
    a file that cannot be read is one more problem, beside the others'."""
    from ..schemas.validate import load_spec  # with the first spec, not at the start of every command (`--version`)

    targets = list(files) or environment_files()
    if not targets:
        raise UsageError("nothing to validate: give spec files, or run where an environments/ folder is")
    valid, problems = [], []
    for path in targets:
        try:
            valid.append(load_spec(path).name)
        except SpecInvalid as err:
            problems.extend(err.problems)
    # a base's problem once, however many environments extend it
    return Validated(tuple(valid), tuple(dict.fromkeys(problems)))
