"""`meshinstall teams ...`: app teams and their Score files; each command parses, calls one use case, renders."""

from __future__ import annotations

from pathlib import Path

import click

from ..operations import load
from . import render


@click.group()
def teams() -> None:
    """App teams and the Score files of their workloads."""


@teams.command("export")
@click.argument("env")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write DIR/TEAM/APP.yaml into [default: teams/ beside ENV's spec file].",
)
@click.option("--force", is_flag=True, help="Overwrite Score files that exist.")
def export(env: str, out: Path | None, force: bool) -> None:
    """Write each team's inline apps of ENV as Score files (score.dev/v1b1), one per app, and print the spec change
    that hands each team its folder (`workloads:` instead of `apps:`).

    What the app says maps to the Score file so that nothing deployed changes. A secretEnv read from a file
    ({fromFile: path}) has no Score form: it is left out, with a warning naming the app and the variable. Existing
    files are not overwritten without --force."""
    from ..operations import score_export  # on use: every command's start would load the model and YAML for it
    from ..schemas.loader import display_name

    done = score_export.export(load(env), out, force)
    err = render.console(stderr=True)
    for warning in done.warnings:
        err.print(f"warning: {warning}", markup=False)
    if not done.written:
        click.echo(f"{env}: no team writes its apps in the spec, nothing to export")
        return
    for path in done.written:
        click.echo(f"wrote {display_name(path)}")
    if done.skipped:
        click.echo(f"nothing to export for team {', '.join(done.skipped)} (no apps in the spec)")
    click.echo("Now, in the spec, replace each team's `apps:` (and the list under it) with its folder:")
    for change in done.changes:
        click.echo(f"  {display_name(change.file)}, team {change.team}:  workloads: {change.workloads}")
