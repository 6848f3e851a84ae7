"""The user-facing errors of meshinstall and the exit code of each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SpecProblem:
    """One thing wrong with a spec: where it is, what is wrong, how to fix it."""

    file: str
    line: int
    column: int
    path: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.file}:{self.line}:{self.column}: {self.path}: {self.message}{hint}"

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }


class MeshinstallError(Exception):
    """Root of every error meant for a user; `cli/` maps each kind to an exit code."""

    exit_code = 1
    meaning = "an operation failed"


class UsageError(MeshinstallError):
    """The command line or the environment around it is wrong (missing passphrase, unknown env)."""

    exit_code = 2
    meaning = (
        "usage error (bad option, unknown environment, missing passphrase, missing or empty secret, wrong passphrase)"
    )


class SpecInvalid(MeshinstallError):
    """A spec (or one it extends) failed validation; carries every problem found."""

    exit_code = 3
    meaning = "the spec is invalid (nothing was applied)"

    def __init__(self, problems: list[SpecProblem]) -> None:
        # each once: two schema rules can report the same missing property at the same place
        self.problems = sorted(set(problems), key=lambda p: (p.file, p.line, p.column, p.path, p.message))
        count = len(self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the spec")


class VerificationFailed(MeshinstallError):
    """A doctor or verify check failed."""

    exit_code = 4
    meaning = "a verification check failed"


class EngineFailed(MeshinstallError):
    """The Pulumi engine reported a failed operation."""

    exit_code = 5
    meaning = "the Pulumi engine reported a failure"


class ClusterUnreachable(MeshinstallError):
    """The Kubernetes cluster could not be reached or started."""

    exit_code = 6
    meaning = "the cluster could not be reached or started"


class ToolchainMissing(MeshinstallError):
    """The Pulumi engine or a plugin it needs is not installed."""

    exit_code = 7
    meaning = "the Pulumi engine or a plugin is missing"


class EnvironmentLocked(MeshinstallError):
    """Another command holds the environment's lock, or a dead one left the engine's lock behind."""

    exit_code = 8
    meaning = "the environment is locked by another command (the message names it; a dead one's lock is cleared by `up`, `repair` or `unlock`)"


class StateBackendUnreachable(MeshinstallError):
    """The state backend (a PostgreSQL server, a folder) cannot be reached or written. Found before the engine ran,
    nothing was changed; when it went away under a running engine, the message says how many changes were made."""

    exit_code = 9
    meaning = (
        "the state backend cannot be reached or written (PostgreSQL down or restarted, wrong password, folder not "
        "writable or full); nothing was changed, unless the message says how many changes the engine made first"
    )


class Interrupted(MeshinstallError):
    """The user interrupted the command (Ctrl-C); the message says what was changed and what is left."""

    exit_code = 130
    meaning = "interrupted (Ctrl-C or SIGTERM): the message says what was changed; run the command again to finish"


def exit_codes() -> dict[int, str]:
    """Every documented exit code and what it means, 0 first: from the errors above, each kind's code once."""
    kinds = [MeshinstallError]
    for kind in kinds:
        kinds.extend(kind.__subclasses__())
    return {0: "success"} | dict(sorted((kind.exit_code, kind.meaning) for kind in kinds))
