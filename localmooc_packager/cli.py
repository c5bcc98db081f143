"""The `localmooc` command. Each command parses its options, calls one library function and prints.

Exit codes: 0 success, 1 invalid input (problems were printed), 2 usage error, 3 an internal error (a bug:
the traceback is printed so that it can be reported).
"""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import __version__
from .errors import InvalidInputError, LocalMoocError, Report, display_path

if TYPE_CHECKING:
    from .batch import CourseResult

EXIT_BUG = 3


def _print_report(report: Report, fmt: str, label: str, strict: bool) -> bool:
    ok = report.ok(strict)
    if fmt == "json":
        click.echo(report.to_json())
        return ok
    for problem in report:
        click.echo(str(problem), err=True)
    e, w = len(report.errors), len(report.warnings)
    verdict = "valid" if ok else "INVALID"
    click.echo(f"{label}: {verdict} ({e} error{'s' * (e != 1)}, {w} warning{'s' * (w != 1)})")
    return ok


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="localmooc")
def cli() -> None:
    """Author, validate, package and run Local MOOC courses."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json prints one report object per path to stdout.",
)
@click.option("--strict", is_flag=True, help="Warnings fail too.")
@click.option(
    "--as",
    "kind",
    type=click.Choice(["source", "olx", "scorm"]),
    default=None,
    help="What PATH is (default: detected).",
)
def validate(paths: tuple[Path, ...], fmt: str, strict: bool, kind: str | None) -> None:
    """Check course sources, OLX courses (folder or archive) and SCORM packages; print every problem."""
    from .validators import validate_path

    all_ok = True
    for path in paths:
        detected, report = validate_path(path, kind)
        all_ok &= _print_report(report, fmt, f"{display_path(path)} ({detected})", strict)
    sys.exit(0 if all_ok else 1)


def _formats() -> list[str]:
    from .exporters import available

    return list(available())


_JOBS_OPTION = click.option(
    "-j",
    "--jobs",
    type=click.IntRange(0, 256),
    default=0,
    show_default=True,
    help="Courses built at once, each in its own process (0: one per core).",
)


def _print_result(result: CourseResult) -> bool:
    """Print one course's outcome; True when it and its packages are fine."""
    for line in result.problems:
        click.echo(line, err=True)
    if result.error:
        click.echo(f"error: {display_path(result.course)}: {result.error}", err=True)
    for package in result.packages:
        checked = f"; {package.kind} {'valid' if package.valid else 'INVALID'}" if package.kind else ""
        click.echo(
            f"  wrote {display_path(package.path)} ({package.path.stat().st_size:,} bytes, "
            f"{package.seconds:.2f} s{checked})"
        )
        for line in package.problems:
            click.echo(f"    {line}", err=True)
    return result.ok


@cli.command()
@click.argument("courses", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format", "formats", multiple=True, help="Package format (repeatable; default: every format)."
)
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(path_type=Path),
    default=Path("build"),
    show_default=True,
    help="Folder the packages are written into.",
)
@click.option(
    "--olx-flavor",
    type=click.Choice(["stock", "native"]),
    default="stock",
    show_default=True,
    help="stock: only blocks every Open edX has; native: this toolkit's own XBlocks.",
)
@_JOBS_OPTION
def build(courses: tuple[Path, ...], formats: tuple[str, ...], out: Path, olx_flavor: str, jobs: int) -> None:
    """Validate each course folder and write its packages.

    One course: its packages go into the output folder. Several: each into OUTPUT/<course folder name>/,
    built in parallel (--jobs); a broken course is reported and the others are still built.
    """
    from .batch import build_courses
    from .build import build_course

    chosen = list(formats) or _formats()
    if len(courses) == 1:
        for path, seconds in build_course(courses[0], out, chosen, olx_flavor=olx_flavor):
            click.echo(f"wrote {display_path(path)} ({path.stat().st_size:,} bytes, {seconds:.2f} s)")
        return
    failed = []
    for result in build_courses(list(courses), out, chosen, jobs, olx_flavor=olx_flavor):
        click.echo(f"{display_path(result.course)}:")
        if not _print_result(result):
            failed.append(result)
    if failed:
        click.echo(f"{len(failed)} of {len(courses)} course(s) failed", err=True)
        sys.exit(max(r.exit_code for r in failed) or 1)
    click.echo(f"done: {len(courses)} course(s); packages are in {display_path(out)}/")


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path), default=Path("sample_courses"))
@click.option(
    "-o", "--output", "out", type=click.Path(path_type=Path), default=Path("build"), show_default=True
)
@_JOBS_OPTION
def samples(folder: Path, out: Path, jobs: int) -> None:
    """Validate every course in FOLDER and build each into every format (the quick-start job)."""
    from .batch import build_courses
    from .exporters import broken
    from .validators import validate_path

    for name, reason in broken().items():
        click.echo(f"warning: format {name} skipped: its exporter cannot be loaded ({reason})", err=True)
    courses = sorted(p for p in folder.iterdir() if (p / "course.yaml").is_file()) if folder.is_dir() else []
    if not courses:
        raise click.UsageError(f"no course folders (with course.yaml) in {folder}")
    failed = 0
    valid = []
    for course in courses:
        _, report = validate_path(course, "source")
        if _print_report(report, "text", display_path(course), strict=False):
            valid.append(course)
        else:
            failed += 1
    # Each package is checked by the same validator a platform team would run on it.
    for result in build_courses(valid, out, _formats(), jobs, check=True):
        click.echo(f"{display_path(result.course)} packages:")
        failed += not _print_result(result)
    if failed:
        click.echo(f"{failed} sample course(s) or package(s) are invalid", err=True)
        sys.exit(1)
    click.echo(f"done: {len(courses)} course(s) valid; packages are in {display_path(out)}/")


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--id", "course_id", default=None, help="Course id (ASCII; default: the folder name).")
@click.option("--title", default="หลักสูตรใหม่", show_default=True, help="Course title.")
@click.option("--org", default="DLA", show_default=True)
def new(path: Path, course_id: str | None, title: str, org: str) -> None:
    """Create a small valid Thai course in PATH (which must not exist or be empty)."""
    from .scaffold import scaffold

    created = scaffold(path, course_id or path.name, title, org)
    click.echo(f"created {display_path(created)}; check it with: localmooc validate {display_path(created)}")


_DB_OPTION = click.option(
    "--db",
    "db_url",
    default="sqlite:///./localmooc.db",
    show_default=True,
    help="SQLAlchemy URL: sqlite:///FILE or postgresql+psycopg://USER@HOST/DB.",
)


@cli.command()
@click.argument("courses", type=click.Path(path_type=Path, exists=True))
@_DB_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--secure-cookies", is_flag=True, help="Mark cookies Secure (behind an HTTPS proxy).")
@click.option(
    "--trusted-html",
    is_flag=True,
    help="Serve course HTML as written. By default it is sanitised (no scripts, frames or event handlers), "
    "since a course may come from an imported package.",
)
def serve(
    courses: Path, db_url: str, host: str, port: int, workers: int, secure_cookies: bool, trusted_html: bool
) -> None:
    """Run the reference runtime for COURSES (one course folder or a folder of course folders).

    The HMAC key comes from LOCALMOOC_SECRET_KEY, else the file LOCALMOOC_KEY_FILE names, else
    localmooc-secret.key next to the SQLite file (created once, mode 0600)."""
    import os

    from .runtime.server import serve as run_server
    from .runtime.settings import Settings

    key_file = os.environ.get("LOCALMOOC_KEY_FILE")
    settings = Settings(
        courses=courses,
        db_url=db_url,
        secure_cookies=secure_cookies,
        trusted_html=trusted_html,
        key_file=Path(key_file) if key_file else None,
        secret_key=os.environ.get("LOCALMOOC_SECRET_KEY") or None,
    )
    run_server(settings, host, port, workers)


@cli.command("import")
@click.argument("archive_or_dir", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(path_type=Path),
    required=True,
    help="New course source folder (must not exist or be empty).",
)
def import_cmd(archive_or_dir: Path, out: Path) -> None:
    """Turn an Open edX OLX export (.tar.gz, .zip or folder) into a course source folder."""
    from .importers.olx import import_olx

    report = import_olx(archive_or_dir, out)
    click.echo(str(report))
    click.echo(f"check it with: localmooc validate {display_path(out)}")


@cli.group()
def db() -> None:
    """The runtime's database."""


@db.command("upgrade")
@_DB_OPTION
def db_upgrade(db_url: str) -> None:
    """Create or migrate the runtime's tables to the newest schema."""
    from .runtime.server import describe_db, upgrade

    click.echo(f"{describe_db(db_url)}: schema at revision {upgrade(db_url)}")


@cli.group()
def admin() -> None:
    """Runtime administrators."""


@admin.command("create")
@click.argument("username")
@_DB_OPTION
@click.option("--name", default="ผู้ดูแลระบบ", show_default=True, help="Display name (new accounts).")
@click.option(
    "--password-env",
    default=None,
    help="Read the new account's password from this environment variable (default: prompt).",
)
@click.option(
    "--promote",
    is_flag=True,
    help="Make the EXISTING account USERNAME an administrator (after a confirmation) instead of creating one.",
)
@click.option("--yes", is_flag=True, help="With --promote: do not ask for confirmation.")
def admin_create(
    username: str, db_url: str, name: str, password_env: str | None, promote: bool, yes: bool
) -> None:
    """Create a new administrator account USERNAME (an existing username is refused).

    With --promote, give an existing account the admin role instead; no password is taken then."""
    import os

    from .runtime.server import create_admin, promote_admin

    if promote:
        if password_env:
            raise click.UsageError("--promote keeps the account's own password; drop --password-env")
        if not yes:
            click.confirm(f"make the existing account {username!r} an administrator?", abort=True)
        learner_id = promote_admin(db_url, username)
        click.echo(f"promoted {username} to admin ({learner_id})")
        return
    if password_env:
        if password_env not in os.environ:
            raise click.UsageError(f"the environment variable {password_env} is not set")
        password = os.environ[password_env]
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    learner_id = create_admin(db_url, username, name, password)
    click.echo(f"created admin {username} ({learner_id})")


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the click group and maps every error to a message and an exit code."""
    started = time.perf_counter()
    try:
        cli.main(args=argv, prog_name="localmooc", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except InvalidInputError as exc:
        for problem in exc.report:
            click.echo(str(problem), err=True)
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except LocalMoocError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception:  # a bug: show everything needed to report it
        traceback.print_exc()
        click.echo(
            f"internal error after {time.perf_counter() - started:.1f} s: please report it with the "
            "traceback above",
            err=True,
        )
        sys.exit(EXIT_BUG)
    sys.exit(0)
