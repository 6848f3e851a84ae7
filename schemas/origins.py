"""Which files a spec is read from: the spec and every file it `extends`, and the file that declares each team."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import loader


@dataclass(frozen=True)
class SpecOrigins:
    """The files of one spec (absolute): the spec first, then each file it extends in turn, and by team name the
    file that declares the team (whose folder the team's relative paths, such as `workloads`, start from)."""

    files: tuple[Path, ...]
    teams: Mapping[str, Path] = field(default_factory=dict)

    def team_file(self, team: str) -> Path:
        """The file that declares `team` (the spec itself for a team it does not know)."""
        return self.teams.get(team, self.files[0])


def origins(path: Path) -> SpecOrigins:
    """Where spec `path`'s values come from (it is read again: call it on a spec that validated)."""
    doc = loader.load(path)
    data = doc.data if isinstance(doc.data, dict) else {}
    teams = data.get("paas", {}).get("teams", [])
    declared = {
        team["name"]: _absolute(doc.position(("paas", "teams", i)).file)
        for i, team in enumerate(teams)
        if isinstance(team, dict) and isinstance(team.get("name"), str)
    }
    return SpecOrigins(tuple(_absolute(name) for name in doc.files) or (path.resolve(),), declared)


def _absolute(name: str) -> Path:
    """A file as the loader names it (relative to the working folder when it lies below it), made absolute."""
    return (Path.cwd() / name).resolve()
