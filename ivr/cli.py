"""The staff command line, `ivr`: a thin edge over the same core the line runs on."""
from __future__ import annotations

import os
import sys

import click
from sqlalchemy.exc import SQLAlchemyError

from ivr.config import DEFAULTS, LineError
from ivr.db.schema import CALLBACK_PROGRESS, CALLBACK_STATUSES
from ivr.doctor import counted
from ivr.problem import FlowError


class StaffError(click.ClickException):
    """A command that cannot go on, as click shows it: "ivr: <message>" on stderr, exit code 1.

    A flow's problems are said one a line, where and what, as `ivr check` says them, once.
    """

    def __init__(self, message: str, problems: list | None = None):
        super().__init__(message)
        self.problems = problems or []

    @classmethod
    def of(cls, exc: LineError) -> StaffError:
        """The line's own error (a FlowError, or one caused by it, brings its problems)."""
        flow = exc if isinstance(exc, FlowError) else exc.__cause__
        return cls(str(exc), flow.problems if isinstance(flow, FlowError) else None)

    def show(self, file=None) -> None:
        """Say it on stderr."""
        for line in [str(p) for p in self.problems] or [f"ivr: {self.message}"]:
            click.echo(line, err=True)


class Commands(click.Group):
    """The `ivr` group: what staff can fix ends a command as a StaffError, never a traceback."""

    def invoke(self, ctx: click.Context):
        """Run the command; turn the line's errors, the database's and the files' into StaffError."""
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader went away (`ivr call | head`): stop quietly, as a pipe expects.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(0)
        except LineError as exc:
            raise StaffError.of(exc) from exc
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise StaffError(f"the database could not be used ({reason}). Check that it is running "
                             "and that DATABASE_URL points at it.") from exc
        except OSError as exc:  # a file or folder a command could not use: the system's words name it
            raise StaffError(str(exc)) from exc


def flow_file(given: str | None) -> str:
    """The call-flow file a command works on: the argument, IVR_CALL_FLOWS, or the default."""
    return given or os.environ.get("IVR_CALL_FLOWS") or DEFAULTS["IVR_CALL_FLOWS"]


def database_url() -> str:
    """The store the commands read: DATABASE_URL or the default SQLite file."""
    return os.environ.get("DATABASE_URL") or DEFAULTS["DATABASE_URL"]


@click.group(cls=Commands)
def main():
    """Tools for the Recovery Helpline's phone line."""


@main.command()
@click.argument("file", required=False)
def check(file):
    """Check a call-flow file: every problem as FILE:LINE: message; exit 1 on errors."""
    from ivr.flow import check_flow
    path = flow_file(file)
    flow, problems = check_flow(path)
    for problem in problems:
        click.echo(str(problem))
    errors = [p for p in problems if p.is_error]
    if errors:
        click.echo(f"{counted(len(errors), 'error')}: the line will not take this file until "
                   f"{'they are' if len(errors) > 1 else 'it is'} fixed.", err=True)
        sys.exit(1)
    from ivr.summary import lines
    warned = f" with {counted(len(problems), 'warning')} above" if problems else ""
    click.echo(f"{path}: ok{warned}; the line will take this file.")
    for line in lines(flow):
        click.echo(line)


@main.command()
@click.argument("file", required=False)
@click.option("--readme", type=click.Path(exists=True, dir_okay=False),
              help="Write the diagram into this README, between its flow-diagram markers.")
def graph(file, readme):
    """Print the call flow as a Mermaid flowchart (GitHub renders it)."""
    from pathlib import Path

    from ivr.flow import load_flow
    from ivr.graph import in_readme, mermaid
    diagram = mermaid(load_flow(flow_file(file)))
    if not readme:
        click.echo(diagram, nl=False)
        return
    Path(readme).write_text(in_readme(Path(readme).read_text("utf-8"), diagram), "utf-8")
    click.echo(f"{readme}: the flow diagram is up to date.")


@main.command("call")
@click.argument("file", required=False)
@click.option("--at", metavar="ISO", help="The time of the call, like 2026-12-25T03:00 (the desk's "
              "time zone unless an offset is given). Default: IVR_NOW or now.")
@click.option("--lang", metavar="CODE", help="Start the call in this language of the flow, like es.")
@click.option("--keys", metavar="1,*,0", help="Play a scripted call and exit: keys, words, silence, "
              "and at a ring answer/decline/voicemail/noanswer/busy, at a recording message/silence.")
def call_command(file, at, lang, keys):
    """A phone in the terminal: hear the line, press keys or say words, through the real routes."""
    from ivr import terminal
    if file and not os.path.exists(file) and all(ch in "0123456789*#," for ch in file):
        # `--keys 1 0`: the shell gave the 0 to FILE.
        raise LineError(f"'{file}' is not a call-flow file; to press several keys, join them with commas "
                         f"and no spaces, like --keys 1,0")
    path = flow_file(file)
    settings = {"IVR_CALL_FLOWS": path}  # IVR_NOW as set, unless --at says when
    if at:
        settings["IVR_NOW"] = _call_time(path, at)
    if os.environ.get("DATABASE_URL"):  # else the call gets a database of its own
        settings["DATABASE_URL"] = os.environ["DATABASE_URL"]
    with terminal.quiet_app(settings) as app:
        from ivr import parts
        flow = parts.flow(app)
        if lang and lang not in flow.languages:
            raise LineError(f"--lang {lang} is not a language of {path}; it speaks {', '.join(flow.languages)}")
        played = terminal.run(app, lang, keys)
    if played.left_message and not os.environ.get("DATABASE_URL"):
        click.echo("(a practice call: the message was not kept; with DATABASE_URL set it is stored "
                   "there, and `ivr callbacks` lists it)")


def _call_time(path: str, at: str) -> str:
    """--at read as IVR_NOW is: ISO 8601, and a time without an offset is in the desk's time zone."""
    from ivr.config import fixed_now
    from ivr.flow import load_flow
    from ivr.staff import desk_zone
    return fixed_now(at, desk_zone(load_flow(path)), name="--at").isoformat()


@main.group(invoke_without_command=True)
@click.option("--status", type=click.Choice([*CALLBACK_STATUSES, *CALLBACK_PROGRESS, "all"]), default="all",
              help="Show only requests with this status (calling, talked and no_answer: a call-back placed "
                   "through Twilio).")
@click.pass_context
def callbacks(ctx, status):
    """List voicemail and callback requests, newest first, in the desk's local time."""
    if ctx.invoked_subcommand:
        return
    from ivr import db
    from ivr.staff import callback_view
    engine = _engine()
    rows = db.list_callbacks(engine, None if status == "all" else status)
    _audit(engine, "view callbacks", f"{len(rows)} shown" + ("" if status == "all" else f", status {status}"))
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
def callbacks_done(callback_id, status):
    """Mark a callback request as called back (or closed, or new again)."""
    from ivr import db
    engine = _engine()
    if not db.set_callback_status(engine, callback_id, status):
        raise LineError(f"there is no callback request #{callback_id}; `ivr callbacks` lists them")
    _audit(engine, "status", f"callback {callback_id} marked {status}")
    click.echo(f"Callback #{callback_id} is now {status}.")


@main.command()
@click.option("--older-than", "days", type=click.IntRange(min=0), required=True,
              help="Delete records older than this many days (0: everything up to now).")
@click.option("--dry-run", is_flag=True, help="List what would go, and delete nothing.")
def purge(days, dry_run):
    """Delete old recordings at Twilio, then the callback requests and call records past retention.

    The audit trail keeps its own retention (ivr.audit.RETENTION_DAYS), however short DAYS.
    """
    from ivr import audit, db, legs, recordings
    from ivr.flow import check_flow
    from ivr.twilio_api import from_environment
    account = from_environment(check_flow(flow_file(None))[0])
    engine = db.connect(database_url())
    done = recordings.purge(engine, account, days, dry_run)
    if dry_run:
        return _purge_plan(done, days)
    if done.deleted or done.gone or done.kept:
        click.echo(f"Deleted {counted(done.deleted + done.gone, 'recording')} at Twilio"
                   + (f" ({done.gone} of them Twilio no longer had)." if done.gone else "."))
    click.echo("Deleted " + ", ".join(counted(n, what.rstrip("s")) for what, n in done.rows.items())
               + f" older than {counted(days, 'day')}.")
    kept = max(days, audit.RETENTION_DAYS)  # the audit trail: never fewer days than its own retention
    click.echo(f"Deleted {counted(legs.purge(engine, days), 'counselor leg')} older than {counted(days, 'day')}, "
               f"and {counted(audit.purge(engine, days), 'audit entry', 'audit entries')} older than {kept} days (the audit trail's "
               "own retention).")
    if done.kept:
        for callback_id, why in done.kept:
            click.echo(f"Callback #{callback_id} kept: {why}", err=True)
        click.echo(f"{counted(len(done.kept), 'callback request')} "
                   f"{'remains' if len(done.kept) == 1 else 'remain'}, with recordings at Twilio; "
                   "run `ivr purge` again to retry them.", err=True)
        sys.exit(1)


def _purge_plan(done, days: int) -> None:
    """Print what a purge would delete (--dry-run)."""
    from ivr.db import as_utc
    zone = _desk_zone()
    click.echo(f"A purge of records older than {counted(days, 'day')} would delete:")
    for row, sid, why in done.listed:
        what = (f"recording {sid} at Twilio, then the row" if sid else
                f"nothing, it stays: {why}" if why else "the row (no recording)")
        click.echo(f"  callback #{row['id']} of {as_utc(row['created_at']).astimezone(zone):%Y-%m-%d %H:%M %Z}: {what}")
    click.echo("  " + ", ".join(counted(n, what.rstrip("s")) for what, n in done.rows.items()) + " in all.")
    click.echo("Nothing was deleted (--dry-run).")


@main.command()
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Only calls that started on or after this day (YYYY-MM-DD, the desk's time zone).")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, writable=True),
              help="Also write the report as a page of charts to this file.")
def report(since, html_file):
    """Call statistics: calls per day, topics, counselors asked for, transfers, hang-ups."""
    from ivr import db
    from ivr import report as stats
    from ivr.flow import check_flow
    from ivr.staff import desk_zone
    flow, _ = check_flow(flow_file(None))  # for the menus' titles and the desk's days
    figures = stats.gather(db.connect(database_url()), flow, since.date() if since else None, desk_zone(flow))
    click.echo(stats.text(figures), nl=False)
    if html_file:
        with open(html_file, "w", encoding="utf-8") as f:
            f.write(stats.page(figures, flow.name if flow is not None else "Recovery Helpline"))
        click.echo(f"Charts written to {html_file}.")


@main.group()
def twilio():
    """The line's Twilio number: point it at this server, and check its configuration."""


def _number_and_settings():
    """The account's number as Twilio has it, and the settings the line needs (from IVR_PUBLIC_URL)."""
    from ivr import twilio_number
    from ivr.flow import check_flow
    from ivr.twilio_api import from_environment
    public = os.environ.get("IVR_PUBLIC_URL")
    if not public:
        raise LineError("IVR_PUBLIC_URL is not set: set it to the address Twilio reaches this line "
                         "at, like https://ivr.example.org")
    return twilio_number.find(from_environment(check_flow(flow_file(None))[0])), twilio_number.wanted(public)


@twilio.command()
@click.option("--yes", is_flag=True, help="Make the change without asking.")
def setup(yes):
    """Point the line's number at this server: /voice, /fallback and /status, all POST."""
    from ivr import twilio_number
    number, settings = _number_and_settings()  # TwilioFailed, a LineError, says what failed
    changes = twilio_number.changes(number, settings)
    if changes:
        click.echo(f"{number.phone_number} ({number.sid}) will change:")
        for change in changes:
            click.echo(f"  {change.label}: {change.now or '(not set)'} -> {change.wanted}")
        if not yes and not click.confirm("Make this change at Twilio?", default=False):
            click.echo("Nothing was changed.")
            sys.exit(1)
        number = twilio_number.apply(number, settings)
        click.echo(f"Done: calls to {number.phone_number} now come to {settings['voice_url']}.")
    else:
        click.echo(f"{number.phone_number} already points at {settings['voice_url']}; nothing to change.")
    left = twilio_number.problems(number, settings)
    for problem in left:
        click.echo(f"{number.phone_number}: {problem}", err=True)
    if left:
        sys.exit(1)


@twilio.command("doctor")
def twilio_doctor():
    """Compare the number's live configuration at Twilio with what the line expects."""
    from ivr import twilio_number
    number, settings = _number_and_settings()
    found = twilio_number.problems(number, settings)
    for problem in found:
        click.echo(f"{number.phone_number}: {problem}")
    if found:
        click.echo(f"{len(found)} problem(s); `ivr twilio setup` fixes the URLs and methods.", err=True)
        sys.exit(1)
    click.echo(f"{number.phone_number}: ok, calls come to {settings['voice_url']} (POST), with "
               f"{settings['voice_fallback_url']} and {settings['status_callback']}.")


@main.command()
def doctor():
    """Check this deployment: flow, store, settings, clock, workers, Twilio; exit 1 on a problem."""
    from ivr.doctor import examine
    findings = examine()
    for finding in findings:
        click.echo(str(finding))
    problems = sum(f.level == "problem" for f in findings)
    warnings = sum(f.level == "warning" for f in findings)
    click.echo(f"{counted(problems, 'problem')}, {counted(warnings, 'warning')}"
               + ("; the line is ready." if not problems else "; fix the problems above."))
    sys.exit(1 if problems else 0)


def _desk_zone():
    """The desk's timezone from the call-flow file, or the machine's local zone."""
    from ivr.flow import check_flow
    from ivr.staff import desk_zone
    return desk_zone(check_flow(flow_file(None))[0])


# -- staff accounts and the audit trail --------------------------------------------------------

def _password(name: str, stdin: bool) -> str:
    """A new password: prompted twice (hidden) on a terminal, else the first line of standard input."""
    if stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise LineError("no password on standard input; pipe one in (echo ... | ivr staff add NAME) "
                             "or run the command in a terminal to be asked")
        return line.rstrip("\r\n")
    return click.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)


def _engine():
    """The store the staff commands change."""
    from ivr import accounts, audit, db, lockout, sessions  # noqa: F401  (their tables)
    return db.connect(database_url())


def _audit(engine, action: str, what: str) -> None:
    """Record a command-line action in the audit trail: the operating-system user, on this host."""
    from ivr import audit
    audit.record(audit.command_line_user(), action, what, audit.command_line(), engine)


@main.group()
def staff():
    """Staff accounts: who may sign in to the callback list, the browser phone and /metrics."""


@staff.command("add")
@click.argument("name")
@click.option("--phone", metavar="E164", help="The staff member's own phone, rung by \"call back now\" "
              "(like +15551234567).")
@click.option("--password-stdin", "stdin", is_flag=True, help="Read the password from standard input "
              "even on a terminal (it is never an argument).")
def staff_add(name, phone, stdin):
    """Create an account; the password is asked for (or read from standard input)."""
    from ivr import accounts
    engine = _engine()
    name = accounts.check_name(name)
    accounts.check_phone(phone)
    name = accounts.add(engine, name, _password(name, stdin), phone)
    _audit(engine, "account added", f"account {name}")
    click.echo(f"Account '{name}' is ready: sign in at /staff/login.")


@staff.command("list")
def staff_list():
    """List the accounts (never their passwords)."""
    from ivr import accounts
    rows = accounts.listing(_engine())
    if not rows:
        click.echo("No staff accounts. Create one with: ivr staff add NAME")
        return
    click.echo(f"{'name':<20} {'phone':<16} {'created':<21} password set")
    for row in rows:
        click.echo(f"{row['name']:<20} {row['phone'] or '-':<16} {accounts.stamp(row['created_at']):<21} "
                   f"{accounts.stamp(row['password_at'])}")


@staff.command("remove")
@click.argument("name")
def staff_remove(name):
    """Delete an account; its sessions end at once."""
    from ivr import accounts
    engine = _engine()
    accounts.remove(engine, name)
    _audit(engine, "account removed", f"account {accounts.check_name(name)}")
    click.echo(f"Account '{accounts.check_name(name)}' is removed; it is signed out everywhere.")


@staff.command("password")
@click.argument("name")
@click.option("--password-stdin", "stdin", is_flag=True, help="Read the new password from standard input.")
def staff_password(name, stdin):
    """Change an account's password; its sessions end at once."""
    from ivr import accounts
    engine = _engine()
    name = accounts.check_name(name)
    if accounts.find(engine, name) is None:
        raise accounts.AccountError(f"there is no account '{name}'; `ivr staff list` shows them")
    accounts.set_password(engine, name, _password(name, stdin))
    _audit(engine, "password changed", f"account {name}")
    click.echo(f"The password of '{name}' is changed; its sessions are ended.")


@staff.command("phone")
@click.argument("name")
@click.argument("phone", required=False, metavar="[E164]")
def staff_phone(name, phone):
    """Set (or, with none, clear) the phone "call back now" rings for a staff member."""
    from ivr import accounts
    engine = _engine()
    name = accounts.check_name(name)
    accounts.set_phone(engine, name, phone)
    _audit(engine, "phone changed", f"account {name}")
    click.echo(f"'{name}' is rung on {accounts.phone_of(engine, name) or 'no number'}.")


@staff.command("unlock")
@click.argument("name")
def staff_unlock(name):
    """Let a name locked out by wrong passwords sign in again now (its failed tries are forgotten)."""
    from ivr import lockout
    engine = _engine()
    forgotten = lockout.lift(engine, name)
    _audit(engine, "lockout lifted", f"name {name[:64]}, {forgotten} failed tries forgotten")
    if forgotten:
        click.echo(f"'{name[:64]}' may sign in again now ({forgotten} failed tries forgotten). Tries from one "
                   "address are counted too: a locked-out address frees itself 15 minutes after its last failures.")
    else:
        click.echo(f"No failed tries on record for '{name[:64]}'; nothing to lift.")


@main.command("audit")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"]),
              help="Only entries from this day (YYYY-MM-DD, UTC) on.")
@click.option("--user", metavar="NAME", help="Only what this staff member did.")
def audit_command(since, user):
    """Who viewed, listened to or changed what, when and from where (UTC), oldest first."""
    from datetime import timezone

    from ivr import accounts, audit
    rows = audit.entries(_engine(), since.replace(tzinfo=timezone.utc) if since else None,
                         user.strip().lower() if user else None)
    if not rows:
        click.echo("No audit entries" + (f" for {user}" if user else "") + (f" since {since:%Y-%m-%d}" if since else "")
                   + ".")
        return
    click.echo(f"{'when (UTC)':<21} {'who':<16} {'action':<17} {'what':<32} from")
    for row in rows:
        click.echo(f"{accounts.stamp(row['at']):<21} {row['who']:<16} {row['action']:<17} {row['what']:<32} "
                   f"{row['place']}")


if __name__ == "__main__":
    main()
