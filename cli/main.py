"""The `meshinstall` command: thin click commands over `schemas/` and `stacks/`, errors mapped to exit codes."""

from __future__ import annotations

import gc
import signal
import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator

import click

from .. import __version__
from ..errors import Interrupted, MeshinstallError, SpecInvalid, UsageError, VerificationFailed
from . import render

EXIT_CODES = {
    0: "success",
    1: "an operation failed",
    2: "usage error (bad option, unknown environment, missing passphrase, missing or empty secret, wrong passphrase)",
    3: "the spec is invalid (nothing was applied)",
    4: "a verification check failed",
    5: "the Pulumi engine reported a failure",
    6: "the cluster could not be reached or started",
    7: "the Pulumi engine or a plugin is missing",
    8: "the environment is locked by another command (the message names it; a dead one's lock is cleared by `up`, `repair` or `unlock`)",
    9: "the state backend cannot be reached or written (PostgreSQL down, wrong password, folder not writable); nothing was changed",
    130: "interrupted (Ctrl-C or SIGTERM): the message says what was changed; run the command again to finish",
}


def load(env: str) -> Any:
    """Resolve an environment name or path and validate it (SpecInvalid on problems)."""
    from ..schemas import resolve_environment
    from ..schemas.validate import load_spec

    return load_spec(resolve_environment(env))


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog="Exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items()))
@click.version_option(__version__, prog_name="meshinstall")
def cli() -> None:
    """Declarative service-mesh platform installer: one validated YAML spec per environment."""


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def validate(files: tuple[Path, ...], as_json: bool) -> None:
    """Validate spec FILES (default: every environment in ./environments)."""
    from ..schemas import environment_files
    from ..schemas.validate import load_spec

    targets = list(files) or environment_files()
    if not targets:
        raise UsageError("nothing to validate: give spec files, or run where an environments/ folder is")
    problems, valid = [], []
    for path in targets:
        try:
            valid.append(load_spec(path).name)
        except SpecInvalid as err:
            problems.extend(err.problems)
    if as_json:
        click.echo(render.as_json({"valid": not problems, "environments": valid, "problems": [p.to_dict() for p in problems]}))
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


def _open(env: str) -> tuple[Any, Any]:
    """Validate first (exit 3 before any engine work), then open the stack."""
    from ..stacks import driver

    spec = load(env)
    return spec, driver.open_stack(spec)


@contextmanager
def _changing(spec: Any, as_json: bool, refresh: bool = False, doctor: bool = False) -> Iterator[Any]:
    """For a command that changes the environment: its lock, what a dead run left cleared (said), the doctor's
    checks if asked (but MI012, whose stuck releases are cleared next), the simulated cluster restarted if it
    stopped, then the opened environment with any interrupted operation recovered."""
    from ..stacks import places

    places.derive_key_ahead(spec)  # first: the driver's import runs beside it
    from ..stacks import driver

    say = lambda line: _say(line, as_json, stderr=True)  # noqa: E731
    with driver.exclusive(spec, _ask, say):
        if doctor:
            _checks("doctor", str(spec.source), as_json, quiet=True, skip={"MI012"}, spec=spec)
        if driver.restart_if_stopped(spec):
            say(f"the simulated cluster of {spec.name} was stopped: restarted it on its data")
        opened = driver.open_environment(spec, refresh)
        for line in driver.recover_state(opened, spec):
            say(line)
        yield opened


def _ask(question: str) -> bool:
    """Ask a yes/no question on a terminal; without one, the answer is no."""
    return sys.stdin.isatty() and click.confirm(question, default=False)


def _run(operation: Callable[..., Any], stack: Any, as_json: bool, **kwargs: Any) -> Any:
    out = render.console()
    if as_json:
        return operation(stack, **kwargs)
    with render.Progress(out) as progress:
        return operation(stack, on_event=progress, **kwargs)


@cli.command()
@engine_command
@click.option("--refresh", is_flag=True, help="Refresh state from the cluster first (shows drift).")
@click.option("--expect-no-changes", is_flag=True, help="Fail if the preview shows changes.")
@click.option("--allow-downgrade", is_flag=True, help="Allow mesh.version to be older than the installed one.")
def preview(env: str, as_json: bool, refresh: bool, expect_no_changes: bool, allow_downgrade: bool) -> None:
    """Show what `up` would change in environment ENV (and the plan of a mesh upgrade)."""
    from ..stacks import places

    spec = load(env)
    places.derive_key_ahead(spec)  # first: the driver's import runs beside it
    from ..stacks import driver

    driver.require_running(spec, "preview")
    opened = driver.open_environment(spec, refresh)
    plan = _upgrade(opened, spec, as_json, allow_downgrade)
    if plan and plan.strategy == "canary":
        step = _first_phase(opened, plan)
        _say(f"the engine's steps of the first phase ({step}):", as_json, stderr=as_json)
    decision = driver.nothing_to_do(opened, refresh)
    if decision.done:
        _report(replace(decision.done, operation="preview", outputs={}), as_json, decision.why)
        return
    _say(f"running the engine: {decision.reason}", as_json)
    outcome = _run(driver.preview, opened.stack, as_json, refresh=decision.refreshes(refresh), expect_no_changes=expect_no_changes)
    _report(outcome, as_json)


@cli.command()
@engine_command
@click.option("--yes", "-y", is_flag=True, help="Apply without asking.")
@click.option("--no-verify", is_flag=True, help="Skip the post-install checks (meshinstall verify).")
@click.option("--refresh/--no-refresh", default=True, show_default=True, help="Read the cluster first, so drift is shown and put back.")
@click.option("--allow-downgrade", is_flag=True, help="Allow mesh.version to be older than the installed one.")
@click.option("--no-rollback", is_flag=True, help="When a wave of a canary mesh upgrade fails its checks, stop there instead of rolling back.")
def up(env: str, as_json: bool, yes: bool, no_verify: bool, refresh: bool, allow_downgrade: bool, no_rollback: bool) -> None:
    """Create or update environment ENV: doctor, preview and ask, apply, verify.

    When the spec, its secrets, the charts and meshinstall are those of the last successful update and every object
    is as that update left it, there is nothing to do and the engine is not started (the first line says so)."""
    spec = load(env)
    with _changing(spec, as_json, refresh, doctor=True) as opened:
        plan = _upgrade(opened, spec, as_json, allow_downgrade)
        if plan and plan.strategy == "canary":
            if not yes:
                click.confirm(f"Upgrade the mesh of {env} as planned?", abort=True)
            _rollout(opened, spec, plan, as_json, rollback=not no_rollback)
        _converge(opened, env, as_json, yes, refresh)
        if plan and plan.strategy == "in-place":
            from ..stacks import rollout

            namespaces = tuple(ns for team in spec.paas.teams for ns in team.namespaces)
            with _the_update_stands("the restart of the apps' Deployments for the new sidecar", "`kubectl rollout restart deployment -n NAMESPACE` restarts them"):
                restarted = rollout.restart_deployments(opened.target, namespaces)
            _say(f"in-place mesh upgrade: restarted {len(restarted)} Deployment(s) so their pods get the {plan.new_version} sidecar", as_json, stderr=as_json)
    if not no_verify:
        with _the_update_stands("the checks", f"`meshinstall verify {env}` runs them"):
            _checks("verify", env, as_json, quiet=True, skip={"MI404"}, spec=spec)


@contextmanager
def _the_update_stands(what: str, again: str) -> Iterator[None]:
    """A Ctrl-C in what `up` does after the engine's update: that update is complete, and the message says so
    (click would report it as an interrupt before anything was applied)."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted after the update, which is applied and recorded; {what} did not finish ({again})") from None


def _upgrade(opened: Any, spec: Any, as_json: bool, allow_downgrade: bool) -> Any:
    """The plan of a change of mesh.version (stacks/upgrade.py), printed; None when the version is unchanged."""
    from ..stacks import driver

    plan = driver.upgrade_plan(opened, spec, allow_downgrade)
    for line in plan.lines() if plan else ():
        _say(line, as_json, stderr=as_json)
    return plan


def _first_phase(opened: Any, plan: Any) -> str:
    """Lay the environment out as the next phase of `plan` will (for `preview`), and name that phase."""
    from ..stacks import driver, upgrade

    state = driver.read_state(opened)
    installed, start = upgrade.installed_from(state), upgrade.resume_at(state, plan.new_version)
    step = upgrade.phases(plan, installed)[start]
    opened.lay_out(step.layout, upgrade.record(plan, installed, start))
    return step.name


def _rollout(opened: Any, spec: Any, plan: Any, as_json: bool, rollback: bool) -> None:
    """Carry out a canary upgrade (stacks/rollout.py), from the phase an interrupted one stopped at."""
    from ..checks import runner
    from ..checks.base import Context
    from ..stacks import driver, rollout, upgrade

    state = driver.read_state(opened)
    installed, start = upgrade.installed_from(state), upgrade.resume_at(state, plan.new_version)
    if start:
        _say(f"resuming the upgrade to {plan.new_version} at phase {start + 1}", as_json, stderr=as_json)

    def gate(layout: Any, ids: tuple[str, ...]) -> list[str]:
        result = runner.run("verify", Context(spec, spec.source, given_layout=layout), set(ids))
        if result.failed:
            render.report(render.console(stderr=True), result)
        return [r.check_id for r in result.failed]

    hooks = rollout.Hooks(
        up=lambda: _report(_run(driver.up, opened.stack, as_json, refresh=False), as_json),
        gate=gate,
        say=lambda line: _say(line, as_json, stderr=as_json),
    )
    rollout.carry_out(opened, plan, installed, start, hooks, rollback)


def _converge(opened: Any, env: str, as_json: bool, yes: bool, refresh: bool) -> None:
    """`up`'s engine part: nothing when nothing changed (stacks/unchanged.py), else preview, ask and apply."""
    from ..stacks import driver

    decision = driver.nothing_to_do(opened, refresh)
    if decision.done:
        _report(decision.done, as_json, decision.why)
        return
    _say(f"running the engine: {decision.reason}", as_json)
    if decision.read_at:  # the reading stands in for the engine's refresh: the update records it
        opened.read_cluster_at(decision.read_at)
    refresh = decision.refreshes(refresh)
    if not yes:
        planned = _run(driver.preview, opened.stack, as_json, refresh=refresh)
        _report(planned, as_json)
        if planned.changed == 0:
            return
        click.confirm(f"Apply {planned.changed} change(s) to {env}?", abort=True)
    _report(_run(driver.up, opened.stack, as_json, refresh=refresh), as_json)


@cli.command()
@engine_command
@click.option("--yes", "-y", is_flag=True, help="Apply without asking.")
def repair(env: str, as_json: bool, yes: bool) -> None:
    """Bring ENV back after a killed or interrupted run, then converge it like `up`.

    Clears, saying so: engine processes and the engine's lock a dead run left (asking first when the holder is on
    another host), operations it left pending, and Helm releases it left pending or failed. `up` does the same."""
    with _changing(load(env), as_json, refresh=True) as opened:
        _converge(opened, env, as_json, yes, True)


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


def _checks(phase: str, env: str, as_json: bool, quiet: bool = False, skip: set[str] | None = None, spec: Any = None) -> None:
    """Run a phase's checks (on `spec` when the command has loaded it); print them (all, or with `quiet` only what
    is not passed); exit 4 on a failure."""
    from ..checks import runner
    from ..schemas import resolve_environment

    ctx = runner.context_for(resolve_environment(env), spec=spec)
    wanted = {i for i in runner.load_all() if i not in (skip or set())}
    result = runner.run(phase, ctx, wanted)
    if as_json and not quiet:
        click.echo(render.as_json(result.to_dict()))
    elif not quiet or result.failed:
        render.report(render.console(stderr=quiet), result)
    if result.failed:
        ids = ", ".join(r.check_id for r in result.failed)
        raise VerificationFailed(f"{phase} failed: {ids}" + (" (nothing was applied)" if phase == "doctor" else ""))


@cli.command()
@engine_command
@click.option("--yes", "-y", is_flag=True, help="Do not ask for the environment name.")
@click.option("--force", is_flag=True, help="Needed with --yes to destroy a production environment.")
@click.option("--delete-crds", is_flag=True, help="Also delete the CRDs meshinstall installed, and with them every object of their kinds.")
def destroy(env: str, as_json: bool, yes: bool, force: bool, delete_crds: bool) -> None:
    """Remove everything meshinstall created for ENV; CRDs stay unless --delete-crds."""
    from ..stacks import driver

    spec = load(env)
    if spec.metadata.production and not (yes and force):
        raise UsageError(f"{spec.name} is a production environment: destroy it only with --yes --force")
    if not yes:
        typed = click.prompt(f"Type the environment name ({spec.name}) to destroy it")
        if typed != spec.name:
            raise UsageError("the name did not match; nothing was destroyed")
    with _changing(spec, as_json) as opened:
        outcome = _run(driver.destroy, opened.stack, as_json)
    _report(outcome, as_json)
    _crds_after_destroy(spec, delete_crds, as_json)


def _crds_after_destroy(spec: Any, delete: bool, as_json: bool) -> None:
    """Say which CRDs stay on an existing cluster (a simulated one is gone with everything in it); delete ours if asked."""
    from ..errors import ClusterUnreachable
    from ..stacks import crds
    from ..stacks.target import ClusterTarget

    target = ClusterTarget.of(spec)
    if target.simulated or as_json:
        return
    out = render.console()
    try:
        deleted, left = crds.after_destroy(target, delete)
    except ClusterUnreachable as err:
        if delete:
            raise
        out.print(f"note: {err}; CRDs stay on a cluster after destroy", markup=False)
        return
    if deleted:
        out.print(f"deleted {len(deleted)} CRDs meshinstall installed: {', '.join(deleted)}")
    if left.ours:
        out.print(f"left in place: {len(left.ours)} CRDs meshinstall installed ({', '.join(left.ours)}); `destroy --delete-crds` removes them")
    if left.unknown:
        out.print(f"left in place: {len(left.unknown)} CRDs of the platform's API groups without an owner mark ({', '.join(left.unknown)}); "
                  "kube-prometheus-stack installs prometheus-operator's this way: delete them by hand if nothing else uses them")


@cli.command()
@engine_command
def refresh(env: str, as_json: bool) -> None:
    """Read the cluster's actual state into ENV's state (reports drift)."""
    from ..stacks import driver

    with _changing(load(env), as_json) as opened:
        _report(_run(driver.refresh, opened.stack, as_json), as_json)


@cli.command()
@engine_command
def status(env: str, as_json: bool) -> None:
    """Show ENV's outputs and its last update."""
    from ..stacks import driver

    spec, stack = _open(env)
    info = driver.status(stack)
    upgrading = driver.upgrade_progress(stack, spec)
    if upgrading:
        info["upgrade"] = upgrading
    if as_json:
        click.echo(render.as_json(info))
        return
    out = render.console()
    last = info["lastUpdate"]
    out.print(f"environment {info['environment']}: " + (f"last {last['kind']} {last['result']} at {last['ended'] or last['started']}" if last else "never deployed"))
    if upgrading:
        out.print(f"mesh upgrade in progress: {upgrading['from']} -> {upgrading['to']}, revisions {' and '.join(upgrading['revisions'])}; "
                  f"done: {', '.join(upgrading['done']) or 'nothing yet'}; pending: {', '.join(upgrading['pending'])}; `meshinstall up {env}` resumes it", markup=False)
    render.outputs(out, {k: v for k, v in info["outputs"].items() if k != "meshUpgrade"})


@cli.command()
@engine_command
@click.option("--limit", default=20, show_default=True, help="How many updates, newest first.")
def history(env: str, as_json: bool, limit: int) -> None:
    """List ENV's past updates from its state backend: when, who, what kind, the result and the changes."""
    from ..stacks import shared_state

    _, stack = _open(env)
    entries = shared_state.history(stack, limit)
    if as_json:
        click.echo(render.as_json({"environment": env, "updates": entries}))
        return
    render.history(render.console(), env, entries)


@cli.command()
@engine_command
@click.option("--yes", "-y", is_flag=True, help="Clear without asking (for scripts).")
def unlock(env: str, as_json: bool, yes: bool) -> None:
    """Clear the engine's lock a dead run left on ENV's stack, after showing it (asks unless --yes)."""
    from ..stacks import shared_state

    say = lambda line: _say(line, as_json, stderr=True)  # noqa: E731
    cleared = shared_state.unlock(load(env), lambda question: yes or _ask(question), say)
    if as_json:
        click.echo(render.as_json({"environment": env, "cleared": cleared}))
        return
    _say(f"cleared {len(cleared)} lock(s) of {env}" if cleared else f"{env} has no engine lock: nothing to clear", as_json)


@cli.command()
@click.argument("env")
@click.option("--json", "as_json", is_flag=True, help="Print the rules and their reasons as JSON.")
def rbac(env: str, as_json: bool) -> None:
    """Print the ClusterRole the identity running `up` needs for ENV, each rule with its reason (docs/rbac.md)."""
    from ..stacks import rbac as rights

    spec = load(env)
    if as_json:
        click.echo(render.as_json([{"apiGroups": list(r.groups), "resources": list(r.resources), "verbs": list(r.verbs), "why": r.why}
                                   for r in rights.rules(spec)]))
        return
    click.echo(rights.cluster_role(spec), nl=False)


@cli.group()
def state() -> None:
    """The state of an environment in its backend."""


@state.command("migrate")
@click.argument("env")
@click.option("--to", "to_url", required=True, help="The backend to copy the state to: postgres://USER@HOST:PORT/DB, file:///PATH or s3://...")
@click.option("--password-env", help="Environment variable holding the new backend's password (else libpq's PGPASSWORD/PGPASSFILE).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def state_migrate(env: str, to_url: str, password_env: str | None, as_json: bool) -> None:
    """Copy ENV's state (its secrets still encrypted) to another backend and check it with a no-change preview."""
    from ..stacks import shared_state

    spec = load(env)
    done = shared_state.migrate(spec, to_url, password_env, lambda line: _say(line, as_json, stderr=True))
    if as_json:
        click.echo(render.as_json(done))
        return
    password = f"\n  password: {{fromEnv: {password_env}}}" if password_env else ""
    _say(f"{env}: {done['resources']} resource(s) now also at {to_url}, and a preview there shows no change.\n"
         f"Now set, in {spec.source}:\n  state:\n    backend: \"{to_url}\"{password}\n"
         f"The state at {done['from']} is left as it was: delete it once everyone uses the new backend.", as_json)


@cli.group()
def cluster() -> None:
    """The cluster of an environment (for kubectl and the Kubernetes client)."""


@cluster.command("kubeconfig")
@click.argument("env")
def cluster_kubeconfig(env: str) -> None:
    """Print the kubeconfig path of ENV's cluster (for a simulated one: once `up` started it)."""
    from ..stacks.target import ClusterTarget

    target = ClusterTarget.of(load(env))
    if target.simulated and not Path(target.kubeconfig).is_file():
        raise UsageError(f"{target.environment}'s simulated cluster does not exist yet: run `meshinstall up {target.environment}`")
    click.echo(target.kubeconfig)


@cluster.command("status")
@click.argument("env")
def cluster_status(env: str) -> None:
    """Whether ENV's simulated control plane runs, and where its files and logs are."""
    from ..stacks.target import ClusterTarget

    target = ClusterTarget.of(load(env))
    plane = target.control_plane()
    if plane is None:
        raise UsageError(f"{target.environment} uses an existing cluster: see `kubectl --kubeconfig {target.kubeconfig} get nodes`")
    state = "running" if plane.running() else "stopped (the next up or refresh restarts it)" if plane.created() else "not created"
    click.echo(f"{target.environment}: {state}\nfiles: {plane.root}\nlogs: {plane.logs}")


@cli.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def init(directory: Path, force: bool) -> None:
    """Write a starter environments/ folder (base.yaml and dev.yaml) that validates."""
    from importlib import resources

    target = directory / "environments"
    target.mkdir(parents=True, exist_ok=True)
    starter = resources.files("meshinstall.cli").joinpath("starter")
    for name in ("base.yaml", "dev.yaml"):
        path = target / name
        if path.exists() and not force:
            raise UsageError(f"{path} exists (use --force to overwrite)")
        path.write_text(starter.joinpath(name).read_text(encoding="utf-8"), encoding="utf-8")
    click.echo(f"wrote {target}/base.yaml and {target}/dev.yaml; next: meshinstall validate && meshinstall up dev")


@cli.command()
def versions() -> None:
    """List the mesh versions meshinstall can install and the Kubernetes versions each supports."""
    from ..schemas.versions import SUPPORTED

    for release in SUPPORTED.values():
        click.echo(f"{release.provider} {release.version}: Kubernetes {release.kubernetes_min} to {release.kubernetes_max}")


def _say(line: str, as_json: bool, stderr: bool = False) -> None:
    if not as_json or stderr:
        render.console(stderr=stderr).print(line, markup=False)


def _report(outcome: Any, as_json: bool, engine_skipped: str = "") -> None:
    """The outcome; `engine_skipped` says why the engine did not need to run (stacks/unchanged.py)."""
    if as_json:
        extra = {"engineSkipped": engine_skipped} if engine_skipped else {}
        click.echo(render.as_json({"operation": outcome.operation, "result": outcome.result, "changes": outcome.changes, "outputs": outcome.outputs, **extra}))
        return
    out = render.console()
    if engine_skipped:
        out.print(f"{engine_skipped}: the engine was not started", markup=False)
    render.summary(out, f"{outcome.operation}: {outcome.changed} change(s)", outcome.changes)
    if outcome.outputs:
        render.outputs(out, outcome.outputs)


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the command and maps meshinstall's errors to documented exit codes."""
    if argv is None:
        # The command line's own run is short, and its objects are freed as they go out of use, except those in
        # cycles: Python's cycle collector passes over every object (the modules, the state) again and again as
        # they are made, and on its way out (0.1 s of an `up` with nothing to do at 10 apps, bench/results.md).
        # The engine's run, which makes cycles by the thousand, turns it back on (stacks/driver.py `_collect_cycles`).
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
            err.print("interrupted before the engine ran: nothing was applied (a cluster start left half done is finished by the next up)")
            return 130
        err.print("aborted; nothing was changed")
        return 1
    except click.ClickException as problem:
        problem.show()
        return 2 if isinstance(problem, click.UsageError) else problem.exit_code
    except SystemExit as done:
        return int(done.code or 0)
    finally:
        if argv is None:  # the command line's own run: a Ctrl-C while Python exits changes nothing, so it prints nothing
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            gc.freeze()  # nothing left to collect on the way out
    return 0


if __name__ == "__main__":
    sys.exit(main())
