"""The `meshinstall` command: each click command parses its options, calls one use case of `operations/`, renders
what comes back, and maps meshinstall's errors to the exit codes of `errors.py`."""

from __future__ import annotations

import gc
import json
import signal
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import click

from .. import __version__, operations
from ..errors import MeshinstallError, SpecInvalid, UsageError, exit_codes
from . import render
from .codeowners import codeowners
from .teams import teams
from .view import TerminalView

EXIT_CODES = exit_codes()
STARTER_SCORE = "teams/demo/hello.yaml"  # the starter team's workload, beside its spec (`workloads: teams/demo`)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items()),
)
@click.version_option(__version__, prog_name="meshinstall")
def cli() -> None:
    """Declarative service-mesh platform installer: one validated YAML spec per environment."""


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def validate(files: tuple[Path, ...], as_json: bool) -> None:
    """Validate spec FILES (default: every environment in ./environments)."""
    done = operations.validate(files)
    valid, problems = done.valid, list(done.problems)
    if as_json:
        click.echo(
            render.as_json({"valid": not problems, "environments": valid, "problems": [p.to_dict() for p in problems]})
        )
        if problems:
            sys.exit(SpecInvalid.exit_code)
    elif problems:
        raise SpecInvalid(problems)
    else:
        render.console().print(f"valid: {', '.join(valid)}")


def engine_command(fn: Callable[..., None]) -> Callable[..., None]:
    """Shared arguments of the commands that run the engine."""
    fn = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (no live display).")(fn)
    return click.argument("env")(fn)


def team_options(fn: Callable[..., None]) -> Callable[..., None]:
    """`--team` and `--kubeconfig` of `preview` and `up`."""
    fn = click.option(
        "--kubeconfig",
        type=click.Path(dir_okay=False, exists=True),
        help="With --team: the team's identity (default: the environment's cluster as the platform reaches it).",
    )(fn)
    return click.option(
        "--team", metavar="TEAM", help="Only this team's workloads (a team with a `workloads` folder), its own stack."
    )(fn)


@cli.command()
@engine_command
@click.option(
    "--refresh/--no-refresh",
    default=True,
    show_default=True,
    help="Read the cluster first, as `up` does, so drift is shown (the engine starts only when something changed).",
)
@click.option("--expect-no-changes", is_flag=True, help="Fail if the preview shows changes.")
@click.option("--allow-downgrade", is_flag=True, help="Allow mesh.version to be older than the installed one.")
@team_options
def preview(
    env: str,
    as_json: bool,
    refresh: bool,
    expect_no_changes: bool,
    allow_downgrade: bool,
    team: str | None,
    kubeconfig: str | None,
) -> None:
    """Show what `up` would change in environment ENV (and the plan of a mesh upgrade); with --team, in that team's
    workloads only."""
    spec = operations.begin(env)
    if team:
        operations.team.preview(spec, team, TerminalView(as_json), refresh, kubeconfig)
        return
    operations.apply.preview(spec, TerminalView(as_json), refresh, expect_no_changes, allow_downgrade)


@cli.command()
@engine_command
@click.option("--yes", "-y", is_flag=True, help="Apply without asking.")
@click.option("--no-verify", is_flag=True, help="Skip the post-install checks (meshinstall verify).")
@click.option(
    "--refresh/--no-refresh",
    default=True,
    show_default=True,
    help="Read the cluster first, so drift is shown and put back.",
)
@click.option("--allow-downgrade", is_flag=True, help="Allow mesh.version to be older than the installed one.")
@click.option(
    "--no-rollback",
    is_flag=True,
    help="When a wave of a canary mesh upgrade fails its checks, stop there instead of rolling back.",
)
@team_options
def up(
    env: str,
    as_json: bool,
    yes: bool,
    no_verify: bool,
    refresh: bool,
    allow_downgrade: bool,
    no_rollback: bool,
    team: str | None,
    kubeconfig: str | None,
) -> None:
    """Create or update environment ENV: doctor, preview and ask, apply, verify; then each team's own workloads.

    With --team T, only team T's workloads (its Score files), through the team's identity (--kubeconfig), under the
    team's own lock: no doctor, no verify, nothing of the platform touched.

    When the spec, its secrets, the charts and meshinstall are those of the last successful update and every object
    is as that update left it, there is nothing to do and the engine is not started (the first line says so)."""
    spec = operations.begin(env)
    if team:
        operations.team.up(spec, team, env, TerminalView(as_json), yes, refresh, kubeconfig)
        return
    options = operations.apply.UpOptions(yes, not no_verify, refresh, allow_downgrade, not no_rollback)
    operations.apply.up(spec, env, TerminalView(as_json), options)


@cli.command()
@engine_command
@click.option("--yes", "-y", is_flag=True, help="Apply without asking.")
def repair(env: str, as_json: bool, yes: bool) -> None:
    """Bring ENV back after a killed or interrupted run, then converge it like `up`.

    Clears, saying so: engine processes and the engine's lock a dead run left (asking first when the holder is on
    another host), operations it left pending, and Helm releases it left pending or failed. `up` does the same."""
    spec = operations.begin(env)
    operations.apply.repair(spec, env, TerminalView(as_json), yes)


@cli.command()
@engine_command
def doctor(env: str, as_json: bool) -> None:
    """Pre-flight checks for ENV: spec, passphrase, state, engine, cluster, rights, versions, capacity, charts."""
    _checks("doctor", env, as_json)


@cli.command()
@engine_command
def verify(env: str, as_json: bool) -> None:
    """Post-install checks for ENV: control plane, injection, policy, monitoring, teams, apps, drift."""
    _checks("verify", env, as_json)


def _checks(phase: str, env: str, as_json: bool) -> None:
    """Run a phase's checks, print every result, exit 4 on a failure."""
    report = operations.checks.run(phase, env)
    if as_json:
        click.echo(render.as_json(report.to_dict()))
    else:
        render.report(render.console(), report)
    failure = operations.checks.verdict(report)
    if failure:
        raise failure


@cli.command()
@engine_command
@click.option("--yes", "-y", is_flag=True, help="Do not ask for the environment name.")
@click.option("--force", is_flag=True, help="Needed with --yes to destroy a production environment.")
@click.option(
    "--delete-crds",
    is_flag=True,
    help="Also delete the CRDs meshinstall installed, and with them every object of their kinds.",
)
def destroy(env: str, as_json: bool, yes: bool, force: bool, delete_crds: bool) -> None:
    """Remove everything meshinstall created for ENV; CRDs stay unless --delete-crds."""
    spec = operations.begin(env)
    done = operations.apply.destroy(spec, TerminalView(as_json), yes, force, delete_crds)
    if not as_json:
        _crds_after_destroy(done)


def _crds_after_destroy(done: operations.apply.Destroyed) -> None:
    """Say which CRDs were deleted and which stay on an existing cluster."""
    out = render.console()
    if done.crds_unread:
        out.print(f"note: {done.crds_unread}; CRDs stay on a cluster after destroy", markup=False)
    if done.crds_deleted:
        out.print(f"deleted {len(done.crds_deleted)} CRDs meshinstall installed: {', '.join(done.crds_deleted)}")
    left = done.crds_left
    if left and left.ours:
        out.print(
            f"left in place: {len(left.ours)} CRDs meshinstall installed ({', '.join(left.ours)}); `destroy --delete-crds` removes them"
        )
    if left and left.unknown:
        out.print(
            f"left in place: {len(left.unknown)} CRDs of the platform's API groups without an owner mark ({', '.join(left.unknown)}); "
            "kube-prometheus-stack installs prometheus-operator's this way: delete them by hand if nothing else uses them"
        )


@cli.command()
@engine_command
def refresh(env: str, as_json: bool) -> None:
    """Read the cluster's actual state into ENV's state (reports drift)."""
    spec = operations.begin(env)
    operations.apply.refresh(spec, TerminalView(as_json))


@cli.command()
@engine_command
def status(env: str, as_json: bool) -> None:
    """Show ENV's outputs and its last update."""
    info = operations.state.status(operations.load(env))
    if as_json:
        click.echo(render.as_json(info))
        return
    out = render.console()
    last, upgrading = info["lastUpdate"], info.get("upgrade")
    out.print(
        f"environment {info['environment']}: "
        + (f"last {last['kind']} {last['result']} at {last['ended'] or last['started']}" if last else "never deployed")
    )
    if upgrading:
        out.print(
            f"mesh upgrade in progress: {upgrading['from']} -> {upgrading['to']}, revisions {' and '.join(upgrading['revisions'])}; "
            f"done: {', '.join(upgrading['done']) or 'nothing yet'}; pending: {', '.join(upgrading['pending'])}; `meshinstall up {env}` resumes it",
            markup=False,
        )
    for cert in info.get("certificates", []):
        out.print(f"linkerd {cert['role']}: expires {cert['expires']} ({cert['daysLeft']} days left)", markup=False)
    render.outputs(out, {k: v for k, v in info["outputs"].items() if k != "meshUpgrade"})


@cli.command()
@engine_command
@click.option(
    "--limit", default=20, show_default=True, type=click.IntRange(1, 10_000), help="How many updates, newest first."
)
def history(env: str, as_json: bool, limit: int) -> None:
    """List ENV's past updates from its state backend: when, who, what kind, the result and the changes."""
    entries = operations.state.history(operations.load(env), limit)
    if as_json:
        click.echo(render.as_json({"environment": env, "updates": entries}))
        return
    render.history(render.console(), env, entries)


@cli.command()
@engine_command
@click.option("--yes", "-y", is_flag=True, help="Clear without asking (for scripts).")
def unlock(env: str, as_json: bool, yes: bool) -> None:
    """Clear the engine's lock a dead run left on ENV's stack, after showing it (asks unless --yes)."""
    view = TerminalView(as_json)
    cleared = operations.state.unlock(operations.load(env), view, yes)
    if as_json:
        click.echo(render.as_json({"environment": env, "cleared": cleared}))
        return
    view.say(f"cleared {len(cleared)} lock(s) of {env}" if cleared else f"{env} has no engine lock: nothing to clear")


@cli.command()
@click.argument("env")
@click.option(
    "--format",
    "kind",
    type=click.Choice(["dot", "mermaid", "svg", "png"]),
    default="dot",
    show_default=True,
    help="DOT or Mermaid text (for docs and pull requests), or a picture drawn by Graphviz.",
)
@click.option("--team", metavar="TEAM", help="Only team TEAM: its apps, the routes into them, the calls in and out.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE (default: stdout).")
def graph(env: str, kind: str, team: str | None, out: Path | None) -> None:
    """Draw environment ENV's platform as its spec declares it: the gateway and its routes, teams and their apps, who
    may call whom, canary splits, the control plane and monitoring. Reads no cluster and no state."""
    from ..operations import graph as drawing

    drawn = drawing.graph(operations.load(env), team)
    if kind in ("svg", "png"):
        if kind == "png" and out is None and sys.stdout.isatty():
            raise UsageError("--format png writes a picture: give --out FILE, or redirect stdout")
        data = drawing.rendered(drawn, kind)
    else:
        data = (drawing.dot(drawn) if kind == "dot" else drawing.mermaid(drawn)).encode()
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        render.write(out, data)
        render.console(stderr=True).print(f"wrote {out} ({kind})", markup=False)


@cli.command()
@click.argument("env")
@click.option("--json", "as_json", is_flag=True, help="Print the rules and their reasons as JSON.")
@click.option("--team", metavar="TEAM", help="The Role team TEAM's identity needs for `up --team` (namespaced only).")
def rbac(env: str, as_json: bool, team: str | None) -> None:
    """Print the ClusterRole the identity running `up` needs for ENV, each rule with its reason (docs/rbac.md); with
    --team, the Role in the team's namespace that its own `up --team` needs."""
    spec = operations.load(env)
    if as_json:
        chosen = operations.describe.team_rights(spec, team) if team else operations.describe.rights(spec)
        click.echo(
            render.as_json(
                [
                    {"apiGroups": list(r.groups), "resources": list(r.resources), "verbs": list(r.verbs), "why": r.why}
                    for r in chosen
                ]
            )
        )
        return
    role = operations.describe.team_role(spec, team) if team else operations.describe.cluster_role(spec)
    click.echo(role, nl=False)


cli.add_command(codeowners)
cli.add_command(teams)


@cli.group()
def certs() -> None:
    """Linkerd's identity certificates: the trust anchor and the issuer meshinstall made."""


@certs.command("show")
@engine_command
def certs_show(env: str, as_json: bool) -> None:
    """Show ENV's trust anchor(s) and issuer, and the days each has left."""
    found = operations.certs.certificates(operations.load(env))
    if as_json:
        click.echo(render.as_json([{**c.__dict__, "expires": c.expires.isoformat()} for c in found]))
        return
    for cert in found:
        click.echo(f"{cert.role}: {cert.subject}, expires {cert.expires.isoformat()} ({cert.days_left} days left)")
    if not found:
        click.echo(f"{env} has no Linkerd identity yet: `meshinstall up {env}` makes it")


@certs.command("rotate")
@engine_command
@click.option("--anchor", is_flag=True, help="Rotate the trust anchor (three updates; resumes where a run stopped).")
@click.option("--yes", "-y", is_flag=True, help="Rotate without asking.")
def certs_rotate(env: str, as_json: bool, anchor: bool, yes: bool) -> None:
    """Rotate ENV's identity issuer, or with --anchor its trust anchor, as Linkerd's documentation prescribes."""
    spec = operations.begin(env)
    operations.certs.rotate(spec, env, TerminalView(as_json), anchor, yes)


@cli.group()
def state() -> None:
    """The state of an environment in its backend."""


@state.command("migrate")
@click.argument("env")
@click.option(
    "--to",
    "to_url",
    required=True,
    help="The backend to copy the state to: postgres://USER@HOST:PORT/DB, file:///PATH or s3://...",
)
@click.option(
    "--password-env",
    help="Environment variable holding the new backend's password (else libpq's PGPASSWORD/PGPASSFILE).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def state_migrate(env: str, to_url: str, password_env: str | None, as_json: bool) -> None:
    """Copy ENV's state (its secrets still encrypted) to another backend and check it with a no-change preview."""
    spec, view = operations.load(env), TerminalView(as_json)
    done = operations.state.migrate(spec, to_url, password_env, view)
    if as_json:
        click.echo(render.as_json(done))
        return
    view.say(
        f"{env}: {done['resources']} resource(s) now also at {to_url}, and a preview there shows no change.\n"
        f"Now set, in {spec.source}:\n{render.state_snippet(to_url, password_env)}"
        f"The state at {done['from']} is left as it was: delete it once everyone uses the new backend."
    )


@cli.group()
def cluster() -> None:
    """The cluster of an environment (for kubectl and the Kubernetes client)."""


@cluster.command("kubeconfig")
@click.argument("env")
def cluster_kubeconfig(env: str) -> None:
    """Print the kubeconfig path of ENV's cluster (for a simulated one: once `up` started it)."""
    click.echo(operations.describe.kubeconfig(operations.load(env)))


@cluster.command("status")
@click.argument("env")
def cluster_status(env: str) -> None:
    """Whether ENV's simulated control plane runs, and where its files and logs are."""
    plane = operations.describe.simulated_cluster(operations.load(env))
    click.echo(f"{plane.environment}: {plane.state}\nfiles: {plane.files}\nlogs: {plane.logs}")


@cli.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def init(directory: Path, force: bool) -> None:
    """Write a starter environments/ folder (base.yaml and dev.yaml, and the demo team's Score file in teams/demo/)
    that validates."""
    target = directory / "environments"
    starter = resources.files("meshinstall.cli").joinpath("starter")
    files = {"base.yaml": target / "base.yaml", "dev.yaml": target / "dev.yaml", "hello.yaml": target / STARTER_SCORE}
    for path in files.values():
        if path.exists() and not force:
            raise UsageError(f"{path} exists (use --force to overwrite)")
    for name, path in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(starter.joinpath(name).read_text(encoding="utf-8"), encoding="utf-8")
    click.echo(
        f"wrote {target}/base.yaml, {target}/dev.yaml and {target / STARTER_SCORE}; "
        "next: meshinstall validate && meshinstall up dev"
    )


@cli.command("render")
@click.argument("env")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="The folder to write (kept in Git)."
)
@click.option(
    "--format", "form", type=click.Choice(["manifests", "argocd", "flux"]), default="manifests", show_default=True
)
@click.option("--repo-url", help="argocd: the Git repository Argo CD reads the rendered folders from.")
@click.option("--repo-path", help="argocd, flux: where --out is in that repository (default: --out as given).")
def render_command(env: str, out: Path, form: str, repo_url: str | None, repo_path: str | None) -> None:
    """Write the objects `up ENV` would apply to --out, in apply order, with the Secrets to create beside them:
    plain manifests, Argo CD Applications with sync waves, or Flux HelmReleases and Kustomizations.

    Reads no cluster and no state, and writes no secret value."""
    from ..operations.render import SECRETS_FILE, write

    done = write(operations.load(env), out, form, repo_url, repo_path)
    then = {
        "manifests": f"apply the folders in order: kubectl apply --server-side -f {out}/00-crds, then each",
        "argocd": f"push {out} to {repo_url}, then: kubectl apply -n argocd -f {out}/root.yaml",
        "flux": f"push {out} to the repository Flux reads, then apply {out}/kustomizations.yaml (or add it to Flux's)",
    }[form]
    click.echo(
        f"wrote {len(done.objects)} objects of {env} to {out} ({form}); {then}; "
        f"{len(done.secrets)} Secret(s) to create first: {out / SECRETS_FILE}"
    )


@cli.command("images")
@click.argument("env")
@click.option("--json", "as_json", is_flag=True, help="Print the images as a JSON list.")
def images_command(env: str, as_json: bool) -> None:
    """List every image ENV's pods will run, one a line (for `skopeo sync` or `crane copy`)."""
    from ..stacks.program.images import images
    from ..stacks.program.rendered import render as rendered

    found = images(rendered(operations.load(env), any_identity=True))
    click.echo(render.as_json(found) if as_json else "\n".join(found))


@cli.command("diff")
@click.argument("left")
@click.argument("right")
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
def diff_command(left: str, right: str, as_json: bool) -> None:
    """Compare the merged specs of environments LEFT and RIGHT field by field, each value with where it comes from."""
    from ..operations.spec_diff import MISSING, diff

    found = diff(left, right)
    if as_json:
        click.echo(render.as_json({"left": left, "right": right, "differences": [d.to_dict() for d in found]}))
        return
    if not found:
        click.echo(f"{left} and {right} are the same")
        return
    for each in found:
        click.echo(each.path)
        for name, side in ((left, each.left), (right, each.right)):
            click.echo(
                f"  {name}: " + ("(not set)" if side.value is MISSING else f"{json.dumps(side.value)}  ({side.origin})")
            )
    click.echo(f"{len(found)} difference(s)")


@cli.command()
def versions() -> None:
    """List the mesh versions meshinstall can install and the Kubernetes versions each supports."""
    for release in operations.describe.versions():
        click.echo(f"{release.provider} {release.version}: Kubernetes {release.kubernetes_range}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the command and maps meshinstall's errors to documented exit codes."""
    if argv is None:
        # The command line's own run is short, and its objects are freed as they go out of use, except those in
        # cycles: Python's cycle collector passes over every object (the modules, the state) again and again as
        # they are made, and on its way out (0.1 s of an `up` with nothing to do at 10 apps, bench/results.md).
        # The engine's run, which makes cycles by the thousand, turns it back on (stacks/engine/environment.py `_collect_cycles`).
        gc.disable()
    err = render.console(stderr=True)
    try:
        cli.main(args=argv, prog_name="meshinstall", standalone_mode=False)
    except SpecInvalid as problem:
        render.problems(err, problem.problems)
        return problem.exit_code
    except MeshinstallError as problem:
        err.print(f"error: {problem}", markup=False)
        return problem.exit_code
    except click.exceptions.Abort as aborted:
        if isinstance(aborted.__context__, KeyboardInterrupt):
            err.print(
                "interrupted before the engine ran: nothing was applied (a cluster start left half done is finished by the next up)"
            )
            return 130
        err.print("aborted; nothing was changed")
        return 1
    except click.ClickException as problem:
        problem.show()
        return 2 if isinstance(problem, click.UsageError) else problem.exit_code
    except SystemExit as done:
        return int(done.code or 0)
    finally:
        # the command line's own run: a Ctrl-C while Python exits changes nothing, so it prints nothing
        if argv is None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            gc.freeze()  # nothing left to collect on the way out
    return 0


if __name__ == "__main__":
    sys.exit(main())
