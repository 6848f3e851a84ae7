"""`meshinstall codeowners`: parses its options, calls `operations.ownership`, prints or writes the file."""

from __future__ import annotations

from pathlib import Path

import click

from . import render


@click.command()
@click.argument("envs", nargs=-1)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the file here (e.g. .github/CODEOWNERS) instead of printing it.",
)
def codeowners(envs: tuple[str, ...], out: Path | None) -> None:
    """Print a CODEOWNERS file (GitHub and GitLab syntax) for environments ENVS (default: every environment in
    ./environments): paas.platformGroups own each spec and every file it extends, and each team's groups own its
    workloads folder.

    Paths are anchored at the repository root (the spec's Git top-level, else the working folder). A group that starts
    with `@` or holds an `@` (an e-mail address) is written as given; any other one gets `@` in front (`platform`
    becomes `@platform`). A team without groups, or an environment without platformGroups, is a comment saying so."""
    from ..operations import ownership  # on use: every command's start would load the model and YAML for it

    text = ownership.codeowners_file(envs, out)
    if out is None:
        click.echo(text, nl=False)
        return
    render.write(out, text.encode(), folders=True)
    click.echo(f"wrote {out}")
