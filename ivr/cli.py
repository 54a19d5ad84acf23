"""The staff command line, `ivr`: a thin edge over the same core the line runs on."""
from __future__ import annotations

import os
import sys
from functools import wraps

import click
from sqlalchemy.exc import SQLAlchemyError

from ivr.config import DEFAULTS, SettingsError
from ivr.problem import FlowError


def staff_errors(func):
    """Turn domain errors into a clear message and exit code 1, never a traceback."""
    @wraps(func)
    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except FlowError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            sys.exit(1)
        except (SettingsError, ValueError, OSError) as exc:
            click.echo(f"ivr: {exc}", err=True)
            sys.exit(1)
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            click.echo(f"ivr: the database could not be used ({reason}). Check that it is running "
                       "and that DATABASE_URL points at it.", err=True)
            sys.exit(1)
    return run


def flow_file(given: str | None) -> str:
    """The call-flow file a command works on: the argument, IVR_CALL_FLOWS, or the default."""
    return given or os.environ.get("IVR_CALL_FLOWS") or DEFAULTS["IVR_CALL_FLOWS"]


def database_url() -> str:
    """The store the commands read: DATABASE_URL or the default SQLite file."""
    return os.environ.get("DATABASE_URL") or DEFAULTS["DATABASE_URL"]


@click.group()
def main():
    """Tools for the Recovery Helpline's phone line."""


@main.command()
@click.argument("file", required=False)
@staff_errors
def check(file):
    """Check a call-flow file: every problem as FILE:LINE: message; exit 1 on errors."""
    from ivr.flow import check_flow
    path = flow_file(file)
    flow, problems = check_flow(path)
    for problem in problems:
        click.echo(str(problem))
    errors = [p for p in problems if p.is_error]
    if errors:
        click.echo(f"{len(errors)} error(s): the line will not take this file until they are fixed.", err=True)
        sys.exit(1)
    click.echo(f"{path}: ok. {len(flow.menus)} menus, {len(flow.prompts)} prompts, "
               f"languages: {', '.join(flow.languages)}.")


@main.command()
@click.argument("file", required=False)
@staff_errors
def graph(file):
    """Print the call flow as a Mermaid flowchart (GitHub renders it)."""
    from ivr.flow import load_flow
    from ivr.graph import mermaid
    click.echo(mermaid(load_flow(flow_file(file))), nl=False)


@main.group(invoke_without_command=True)
@click.option("--status", type=click.Choice(["new", "called_back", "closed", "all"]), default="all",
              help="Show only requests with this status.")
@click.pass_context
@staff_errors
def callbacks(ctx, status):
    """List voicemail and callback requests, newest first, in the desk's local time."""
    if ctx.invoked_subcommand:
        return
    from ivr import db
    from ivr.staff import callback_view
    rows = db.list_callbacks(db.connect(database_url()), None if status == "all" else status)
    if not rows:
        click.echo("No callback requests.")
        return
    zone = _desk_zone()
    click.echo(f"{'#':<5} {'when (' + str(zone) + ')':<22} {'status':<11} {'number':<14} lang "
               f"{'length':>6}  recording  (heard)")
    for row in map(lambda r: callback_view(r, zone), rows):
        click.echo(f"{row['id']:<5} {row['when']:<22} {row['status']:<11} {row['caller'] or '-':<14} "
                   f"{row['lang'] or '-':<4} {row['length'] or '?':>6}  {row['recording'] or '-'}"
                   f"  ({row['path'] or '-'})")
    click.echo("Mark one done with: ivr callbacks done ID   (or --status closed)")


@callbacks.command("done")
@click.argument("callback_id", type=int)
@click.option("--status", type=click.Choice(["called_back", "closed", "new"]), default="called_back",
              help="The new status (default: called_back).")
@staff_errors
def callbacks_done(callback_id, status):
    """Mark a callback request as called back (or closed, or new again)."""
    from ivr import db
    if not db.set_callback_status(db.connect(database_url()), callback_id, status):
        raise ValueError(f"there is no callback request #{callback_id}; `ivr callbacks` lists them")
    click.echo(f"Callback #{callback_id} is now {status}.")


@main.command()
@click.option("--older-than", "days", type=click.IntRange(min=1), required=True,
              help="Delete records older than this many days.")
@staff_errors
def purge(days):
    """Delete callback requests and call records past the retention period."""
    from ivr import db
    counts = db.purge(db.connect(database_url()), days)
    click.echo("Deleted " + ", ".join(f"{n} {what}" for what, n in counts.items())
               + f" older than {days} days.")


def _desk_zone():
    """The desk's timezone from the call-flow file, or the machine's local zone."""
    from ivr.flow import check_flow
    from ivr.staff import desk_zone
    return desk_zone(check_flow(flow_file(None))[0])


if __name__ == "__main__":
    main()
