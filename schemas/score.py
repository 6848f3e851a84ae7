"""Team workload files: reads each workload team's folder of Score files, maps every file onto an app of the team,
and checks the boundary the team's workloads stay within (docs/score.md)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import SpecProblem
from . import loader, score_cache, score_map, score_rules, score_schema
from .loader import Document
from .model import App, Spec, Team
from .score_map import ScoreFile

SUFFIXES = (".yaml", ".yml")
SCORE_HINT = "write a Score workload (apiVersion: score.dev/v1b1, see docs/score.md)"


def with_workloads(spec: Spec, doc: Document) -> tuple[Spec, list[SpecProblem]]:
    """`spec` with each workload team's apps read from its Score files, and every problem found on the way (the
    Score files' own, at their lines, and the environment spec's `workloads` keys')."""
    teams = [i for i, team in enumerate(spec.paas.teams) if team.owns_workloads]
    if not teams:
        return spec, []
    files, problems = _read_all(spec, doc, teams)
    callees = score_map.directory(spec, files)
    apps: list[tuple[ScoreFile, App]] = []
    for file in (f for f in files if f.valid):
        app, found = score_map.to_app(file, spec, callees)
        apps.append((file, app))
        problems.extend(found)
    spec = _attached(spec, files, apps)
    workloads = score_rules.Workloads(spec, doc, tuple(files), tuple(apps), callees)
    problems.extend(problem for rule in score_rules.RULES for problem in rule(workloads))
    return spec, problems


def _read_all(spec: Spec, doc: Document, teams: list[int]) -> tuple[list[ScoreFile], list[SpecProblem]]:
    """Every Score file of the workload teams, and the problems of reading them."""
    problems: list[SpecProblem] = []
    files: list[ScoreFile] = []
    before = score_cache.accepted(doc.files[0])
    for i in teams:
        paths, found = _folder_files(spec.paas.teams[i], doc, i)
        problems.extend(found)
        for path in paths:
            file, found = read(path, i, spec.paas.teams[i], before)
            files.append(file)
            problems.extend(found)
    score_cache.remember(doc.files[0], {f.digest: f.doc.data for f in files if f.valid and f.digest}, before)
    return files, problems


def _folder_files(team: Team, doc: Document, i: int) -> tuple[list[Path], list[SpecProblem]]:
    """The team's Score files (sorted by name; subfolders ignored), and the problems of its declaration."""
    key = ("paas", "teams", i, "workloads")
    problems = []
    if "apps" in doc.data["paas"]["teams"][i]:
        problems.append(
            doc.problem(
                key,
                f"team {team.name!r} has both apps and workloads",
                "a team's apps are written here or in its Score files: move them to the workloads folder, or remove `workloads`",
                at_key=True,
            )
        )
    declared_in = doc.position(key).file
    folder = Path(declared_in).parent / Path(team.workloads or "").expanduser()
    if not folder.is_dir():
        problems.append(
            doc.problem(
                key,
                f"team {team.name!r}: the workloads folder {loader.display_name(folder)} does not exist",
                f"the path is relative to {declared_in}, the file that declares it",
            )
        )
        return [], problems
    # A folder without a Score file is a team onboarded before its first workload: valid, with none.
    return sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file()), problems


def read(
    path: Path, i: int, team: Team, accepted: Mapping[str, Any] | None = None
) -> tuple[ScoreFile, list[SpecProblem]]:
    """One Score file of team `i`, parsed and validated, or taken from `accepted` (the data of files accepted
    before, by score_cache.digest), and its problems (the file's own, naming the team)."""
    try:
        digest = score_cache.digest(loader.read_bounded(path))
    except (OSError, loader.NotAFile):  # parse_file reports it
        digest = ""
    if accepted and digest in accepted:
        recorded = score_cache.RecordedDocument(accepted[digest], path)
        return ScoreFile(i, recorded, True, digest), list(score_schema.unsupported(recorded))
    doc = loader.parse_file(path)
    read_problems = [_naming(problem, team) for problem in doc.problems]
    if doc.data is None:
        return ScoreFile(i, doc, False), read_problems
    found = [p for p in score_schema.schema_problems(doc) if (p.file, p.line, p.column) not in doc.suppressed]
    valid = not found and not doc.problems
    return ScoreFile(i, doc, valid, digest), read_problems + found + list(score_schema.unsupported(doc))


def _naming(problem: SpecProblem, team: Team) -> SpecProblem:
    """A problem reading a team's file, saying whose file it is (and asking for a Score file, not a spec)."""
    hint = SCORE_HINT if "MeshSpec" in problem.hint or "meshinstall/v1" in problem.hint else problem.hint
    message = problem.message.replace("the spec must be", "a Score file must be")
    return dataclasses.replace(problem, message=f"team {team.name!r}: {message}", hint=hint)


def _attached(spec: Spec, files: list[ScoreFile], apps: list[tuple[ScoreFile, App]]) -> Spec:
    """The spec with each workload team's apps, each callee admitting its callers, and a content hash that covers
    the Score files (a changed file is a changed environment)."""
    grants: dict[str, list[str]] = {}
    for file, app in apps:
        team = spec.paas.teams[file.team]
        for dependency in score_map.dependencies(file, team):
            grants.setdefault(dependency.callee, []).append(f"{team.name}/{app.name}")
    teams = []
    for i, team in enumerate(spec.paas.teams):
        own = _first_of_each_name(app for file, app in apps if file.team == i) if team.owns_workloads else team.apps
        teams.append(
            dataclasses.replace(
                team, apps=tuple(_admitting(app, grants.get(f"{team.name}/{app.name}", [])) for app in own)
            )
        )
    digest = hashlib.sha256(spec.content_hash.encode())
    for file in files:
        digest.update(os.fsencode(file.doc.files[0]) + json.dumps(file.doc.data, sort_keys=True, default=str).encode())
    paas = dataclasses.replace(spec.paas, teams=tuple(teams))
    return dataclasses.replace(spec, paas=paas, content_hash=digest.hexdigest())


def _first_of_each_name(apps: Iterable[App]) -> tuple[App, ...]:
    """The apps with one per name (a second of a name is reported by score_rules.unique_workloads)."""
    seen: dict[str, App] = {}
    for app in apps:
        seen.setdefault(app.name, app)
    return tuple(seen.values())


def _admitting(app: App, callers: list[str]) -> App:
    """`app` with `callers` added to its allow_from (each once)."""
    added = tuple(dict.fromkeys(c for c in callers if c not in app.allow_from))
    return dataclasses.replace(app, allow_from=app.allow_from + added) if added else app
