"""The `localmooc` command. Each command parses its options, calls one library function and prints.

Exit codes: 0 success, 1 invalid input (problems were printed), 2 usage error, 3 an internal error (a bug:
the traceback is printed so that it can be reported).
"""

from __future__ import annotations

import json
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


_QUIET_OPTION = click.option(
    "-q", "--quiet", is_flag=True, help="No progress bar (one is shown only when stderr is a terminal)."
)


def _course_folders(path: Path) -> list[Path]:
    """A folder of course folders (each with course.yaml, none at its own top) -> those; else [path]."""
    if not path.is_dir() or any(
        (path / marker).is_file() for marker in ("course.yaml", "course.xml", "imsmanifest.xml")
    ):
        return [path]
    try:
        inside = sorted(p for p in path.iterdir() if (p / "course.yaml").is_file())
    except OSError:
        return [path]
    return inside or [path]


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json prints one object to stdout: totals, one entry per course and every problem with its course.",
)
@click.option("--strict", is_flag=True, help="Warnings fail too.")
@click.option(
    "--as",
    "kind",
    type=click.Choice(["source", "olx", "scorm"]),
    default=None,
    help="What PATH is (default: detected).",
)
@click.option(
    "--offline",
    is_flag=True,
    help="SCORM: the package must play with no network; a file loaded from the network is an error "
    "(default: a warning).",
)
@_QUIET_OPTION
def validate(
    paths: tuple[Path, ...], fmt: str, strict: bool, kind: str | None, offline: bool, quiet: bool
) -> None:
    """Check course sources, OLX courses (folder or archive) and SCORM packages; print every problem.

    A folder of course folders validates each course inside it.
    """
    from .progress import Progress
    from .validators import validate_path

    targets = [t for path in paths for t in (_course_folders(path) if kind in (None, "source") else [path])]
    all_ok = True
    courses: list[dict[str, object]] = []
    problems: list[dict[str, object]] = []
    totals = [0, 0]
    with Progress("validating", total=len(targets), quiet=quiet) as bar:
        for path in targets:
            shown = display_path(path)
            bar.detail(shown)
            detected, report = validate_path(path, kind, offline=offline)
            if fmt == "json":
                ok = report.ok(strict)
                e, w = len(report.errors), len(report.warnings)
                totals[0] += e
                totals[1] += w
                courses.append({"path": shown, "kind": detected, "errors": e, "warnings": w, "valid": ok})
                problems.extend({"course": shown, **p.to_dict()} for p in report.sorted())
            else:
                ok = _print_report(report, fmt, f"{shown} ({detected})", strict)
            all_ok &= ok
            bar.advance()
    if fmt == "json":
        payload = {
            "errors": totals[0],
            "warnings": totals[1],
            "valid": all_ok,
            "courses": courses,
            "problems": problems,
        }
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    sys.exit(0 if all_ok else 1)


class _FormatChoice(click.Choice):
    """The registered exporters (entry points `localmooc.exporters`), looked up when the CLI needs them:
    listed in --help, and an unknown name is a usage error that names them."""

    name = "format"

    def __init__(self) -> None:
        super().__init__([], case_sensitive=True)

    @property  # type: ignore[override]
    def choices(self) -> list[str]:
        from importlib.metadata import entry_points

        return sorted({ep.name for ep in entry_points(group="localmooc.exporters")})

    @choices.setter
    def choices(self, _value: object) -> None:
        pass  # click.Choice.__init__ sets it; the names always come from the entry points

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> object:
        if value in self.choices:
            return value
        self.fail(f"unknown format {value!r}; available: {', '.join(self.choices)}", param, ctx)


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
    "--format",
    "formats",
    multiple=True,
    type=_FormatChoice(),
    help="Package format (repeatable; default: every format).",
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
@_QUIET_OPTION
def build(
    courses: tuple[Path, ...], formats: tuple[str, ...], out: Path, olx_flavor: str, jobs: int, quiet: bool
) -> None:
    """Validate each course folder and write its packages.

    One course: its packages go into the output folder. Several: each into OUTPUT/<course folder name>/,
    built in parallel (--jobs); a broken course is reported and the others are still built.
    """
    from .batch import build_courses
    from .build import iter_build_course
    from .progress import Progress

    chosen = list(formats) or _formats()
    if len(courses) == 1:
        with Progress(f"building {display_path(courses[0])}", total=len(chosen), quiet=quiet) as bar:
            for built in iter_build_course(courses[0], out, chosen, olx_flavor=olx_flavor):
                size = built.path.stat().st_size
                click.echo(f"wrote {display_path(built.path)} ({size:,} bytes, {built.seconds:.2f} s)")
                bar.advance(detail=built.path.name)
        return
    failed = []
    with Progress("building", total=len(courses), quiet=quiet) as bar:
        for result in build_courses(list(courses), out, chosen, jobs, olx_flavor=olx_flavor):
            click.echo(f"{display_path(result.course)}:")
            if not _print_result(result):
                failed.append(result)
            bar.advance(detail=display_path(result.course))
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
@_QUIET_OPTION
def samples(folder: Path, out: Path, jobs: int, quiet: bool) -> None:
    """Validate every course in FOLDER and build each into every format (the quick-start job)."""
    from .batch import build_courses
    from .exporters import broken
    from .validators import validate_path

    for name, reason in broken().items():
        click.echo(f"warning: format {name} skipped: its exporter cannot be loaded ({reason})", err=True)
    courses = sorted(p for p in folder.iterdir() if (p / "course.yaml").is_file()) if folder.is_dir() else []
    if not courses:
        raise click.UsageError(f"no course folders (with course.yaml) in {folder}")
    from .progress import Progress

    failed = 0
    valid = []
    with Progress("validating", total=len(courses), quiet=quiet) as bar:
        for course in courses:
            bar.detail(display_path(course))
            _, report = validate_path(course, "source")
            if _print_report(report, "text", display_path(course), strict=False):
                valid.append(course)
            else:
                failed += 1
            bar.advance()
    # Each package is checked by the same validator a platform team would run on it.
    with Progress("building and checking", total=len(valid), quiet=quiet) as bar:
        for result in build_courses(valid, out, _formats(), jobs, check=True):
            click.echo(f"{display_path(result.course)} packages:")
            failed += not _print_result(result)
            bar.advance(detail=display_path(result.course))
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


@cli.command("new-xblock")
@click.argument("name")
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder the package folder NAME is created in.",
)
def new_xblock(name: str, out: Path) -> None:
    """Create an installable XBlock package for block type NAME (then: pip install -e OUTPUT/NAME)."""
    from .scaffold import scaffold_xblock

    created = scaffold_xblock(name, out)
    shown = display_path(created)
    click.echo(f"created {shown}; install it with: pip install -e {shown}; test it with: pytest {shown}")
    click.echo(f"then use it in a course as `type: {name}` (see {shown}/README.md)")


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def formats(fmt: str) -> None:
    """List the installed export formats (plug-ins of the localmooc.exporters entry point group)."""
    import dataclasses
    import json

    from .plugins import list_formats

    found = list_formats()
    if fmt == "json":
        click.echo(json.dumps([dataclasses.asdict(f) for f in found], ensure_ascii=False, indent=2))
    for f in found if fmt == "text" else ():
        if f.error:
            click.echo(f"{f.name:<12} BROKEN ({f.package}): {f.error}", err=True)
        else:
            click.echo(f"{f.name:<12} {f.description} [{f.package}]")
    if not any(f.error is None for f in found):
        raise click.ClickException("no export format can be loaded")


@cli.command()
@click.option("--all", "show_all", is_flag=True, help="Also this toolkit's own lm-* blocks.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def blocks(show_all: bool, fmt: str) -> None:
    """List the installed XBlock types usable as `type:` with their fields, scopes and package."""
    import dataclasses
    import json

    from .plugins import list_blocks

    found = [b for b in list_blocks() if show_all or not b.builtin]
    if fmt == "json":
        click.echo(json.dumps([dataclasses.asdict(b) for b in found], ensure_ascii=False, indent=2))
        return
    for b in found:
        if b.error:
            click.echo(f"{b.type}: BROKEN ({b.package}, {b.target}): {b.error}", err=True)
            continue
        scorm = "SCORM: static_view" if b.static else "SCORM: no (OLX only)"
        click.echo(f"{b.type}  [{b.package}; {b.target}; {scorm}]")
        for f in b.fields:
            where = (
                "course" if f.in_course else ("structure" if f.scope in ("children", "parent") else "learner")
            )
            click.echo(f"    {f.name:<24} {f.scope:<18} {f.type:<10} ({where})")
    if not found:
        click.echo("no third-party XBlock is installed (localmooc blocks --all shows the built-in ones)")


_DB_OPTION = click.option(
    "--db",
    "db_url",
    default="sqlite:///./localmooc.db",
    show_default=True,
    help="SQLAlchemy URL: sqlite:///FILE or postgresql+psycopg://USER@HOST/DB.",
)


@cli.command()
@click.argument("courses", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
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
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON line per request on stderr (request id, method, route, status, duration; "
    "no personal data). See docs/operations.md.",
)
@click.option(
    "--certificate-template",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The organisation's certificate template (YAML: organisation, logo, signatory, title). "
    "See docs/certificates.md.",
)
@click.option(
    "--public-url",
    help="This runtime's public address (https://mooc.example.go.th): the QR code on every certificate "
    "opens {URL}/verify/{number}. Default: the template's verify_base_url.",
)
def serve(
    courses: tuple[Path, ...],
    db_url: str,
    host: str,
    port: int,
    workers: int,
    secure_cookies: bool,
    trusted_html: bool,
    log_format: str,
    certificate_template: Path | None,
    public_url: str | None,
) -> None:
    """Run the reference runtime for COURSES: course folders, Open edX OLX courses (.tar.gz, .zip or
    folder), or folders of them. A course with errors is reported and skipped; the others are served.

    The HMAC key comes from LOCALMOOC_SECRET_KEY, else the file LOCALMOOC_KEY_FILE names, else
    localmooc-secret.key next to the SQLite file (created once, mode 0600)."""
    import os
    import tempfile

    from .importers.runtime import runtime_courses
    from .runtime.server import course_set
    from .runtime.server import serve as run_server
    from .runtime.settings import Settings, db_options, version_poll

    key_file = os.environ.get("LOCALMOOC_KEY_FILE")
    # OLX courses are imported into a folder that lives as long as the server (docs/import-olx.md).
    with tempfile.TemporaryDirectory(prefix="localmooc-serve-") as work:
        if len(courses) == 1:
            folder = runtime_courses(courses[0], Path(work) / "courses")
        else:  # several: one folder of links to every course in them
            found = [runtime_courses(c, Path(work) / "courses" / str(i)) for i, c in enumerate(courses)]
            folder = course_set([d for f in found for d in _course_folders(f)], Path(work) / "all")
        settings = Settings(
            courses=folder,
            db_url=db_url,
            secure_cookies=secure_cookies,
            trusted_html=trusted_html,
            key_file=Path(key_file) if key_file else None,
            secret_key=os.environ.get("LOCALMOOC_SECRET_KEY") or None,
            log_format=log_format,
            metrics_token=os.environ.get("LOCALMOOC_METRICS_TOKEN") or None,
            version_poll=version_poll(os.environ.get("LOCALMOOC_VERSION_POLL")),
            **db_options(os.environ),
            certificate_template=certificate_template,
            public_url=public_url,
        )
        run_server(settings, host, port, workers)


@cli.command()
@click.argument("courses", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option("--port", default=8001, show_default=True, type=click.IntRange(1, 65535))
@click.option("--trusted-html", is_flag=True, help="Show course HTML unsanitised, as `serve --trusted-html`.")
def preview(courses: tuple[Path, ...], port: int, trusted_html: bool) -> None:
    """Preview COURSES (course folders, or folders of them) in the real player on 127.0.0.1, signed in
    as a learner, with a throwaway database. Saving a file reloads its course and the open pages; a course
    with errors shows them in its pages instead (docs/runtime.md, "Preview")."""
    from .runtime.preview import run_preview

    run_preview(list(courses), port, trusted_html)


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
@_QUIET_OPTION
def import_cmd(archive_or_dir: Path, out: Path, quiet: bool) -> None:
    """Turn an Open edX OLX export (.tar.gz, .zip or folder) into a course source folder."""
    from .importers.olx import import_olx
    from .progress import Progress

    with Progress(f"importing {display_path(archive_or_dir)}", quiet=quiet):
        report = import_olx(archive_or_dir, out)
    click.echo(str(report))
    click.echo(f"check it with: localmooc validate {display_path(out)}")


@cli.command("fix-encoding")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def fix_encoding_cmd(files: tuple[Path, ...]) -> None:
    """Convert Thai text FILES saved as TIS-620 / windows-874 to UTF-8, in place.

    Each original is kept as FILE.bak (a file whose backup exists already is left alone); UTF-8 files are
    left as they are.
    """
    from .source.encoding import fix_encoding

    failed = 0
    for path in files:
        try:
            click.echo(fix_encoding(path))
        except LocalMoocError as exc:
            click.echo(f"error: {exc}", err=True)
            failed = max(failed, exc.exit_code)
    sys.exit(failed)


@cli.command()
@click.argument("course_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@_DB_OPTION
@click.option("--trusted-html", is_flag=True, help="Check the course as `serve --trusted-html` loads it.")
def publish(course_dir: Path, db_url: str, trusted_html: bool) -> None:
    """Publish COURSE_DIR as the next version of its course: validated, stored in the database with its
    content hash, and served by every running node within seconds (no restart). Publishing the content
    that is already published changes nothing. See docs/operations.md."""
    from .runtime.server import describe_db
    from .runtime.services.versions import publish_cli

    try:
        done = publish_cli(db_url, course_dir, trusted_html)
    except InvalidInputError as exc:
        for problem in exc.report:
            click.echo(str(problem), err=True)
        click.echo(f"error: {display_path(course_dir)}: not published ({exc})", err=True)
        sys.exit(exc.exit_code)
    where = describe_db(db_url)
    if done.new:
        click.echo(f"{where}: published {done.course_id} version {done.version} ({done.content_hash[:12]})")
    else:
        click.echo(
            f"{where}: {done.course_id} version {done.version} ({done.content_hash[:12]}) is already this "
            "content; nothing to publish"
        )


@cli.group()
def db() -> None:
    """The runtime's database."""


@db.command("upgrade")
@_DB_OPTION
def db_upgrade(db_url: str) -> None:
    """Create or migrate the runtime's tables to the newest schema."""
    from .runtime.server import describe_db, upgrade

    click.echo(f"{describe_db(db_url)}: schema at revision {upgrade(db_url)}")


@db.command("check")
@_DB_OPTION
def db_check(db_url: str) -> None:
    """Check that migrations are current and every expected table and index exists (exit 1 if not)."""
    from .runtime.dbcheck import check

    result = check(db_url)
    if result.ok:
        click.echo(
            f"{result.where}: schema current (revision {result.revision}); "
            f"{result.tables} tables and {result.indexes} indexes as expected"
        )
        from .runtime.services.versions import version_lines

        for line in version_lines(db_url):
            click.echo(line)
        return
    click.echo(f"{result.where}: revision {result.revision or 'none'}, newest {result.head}", err=True)
    for problem in result.problems:
        click.echo(f"  - {problem}", err=True)
    click.echo(f"error: the schema needs attention ({len(result.problems)} problem(s))", err=True)
    sys.exit(1)


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


@cli.group()
def lrs() -> None:
    """Learning records (xAPI) out to a Learning Record Store."""


@lrs.command("push")
@_DB_OPTION
@click.option(
    "--lrs", "lrs_url", required=True, help="The LRS's xAPI endpoint, e.g. https://lrs.example/xAPI."
)
@click.option("--user", required=True, help="LRS basic-auth user (needs the statements/write scope).")
@click.option(
    "--password-file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="File whose first line is the LRS password.",
)
@click.option(
    "--once", "mode", flag_value="once", default=True, help="Send what is due, then exit (default)."
)
@click.option("--loop", "mode", flag_value="loop", help="Keep sending until SIGTERM/SIGINT.")
@click.option("--batch-size", default=100, show_default=True, type=click.IntRange(1, 500))
@click.option(
    "--retention-days",
    type=click.IntRange(1, 36500),
    default=None,
    envvar="LOCALMOOC_XAPI_RETENTION_DAYS",
    help="Also delete statements delivered more than DAYS days ago (hourly under --loop). "
    "[env: LOCALMOOC_XAPI_RETENTION_DAYS; default: keep them]",
)
def lrs_push(
    db_url: str,
    lrs_url: str,
    user: str,
    password_file: Path,
    mode: str,
    batch_size: int,
    retention_days: int | None,
) -> None:
    """Send the xAPI outbox to an LRS. With --once, exit 1 if some statements must wait for a retry."""
    from .xapi.delivery import read_password, run_push

    stats = run_push(
        db_url,
        lrs_url,
        user,
        read_password(password_file),
        loop=mode == "loop",
        batch_size=batch_size,
        echo=click.echo,
        retention_days=retention_days,
    )
    if mode == "once" and stats.retried:
        click.echo(f"error: {stats.errors[-1] if stats.errors else 'delivery failed'}; will retry", err=True)
        sys.exit(1)


@lrs.command("status")
@_DB_OPTION
@click.option("--requeue-dead", is_flag=True, help="Make refused statements pending again (after a fix).")
def lrs_status(db_url: str, requeue_dead: bool) -> None:
    """Show the xAPI outbox: pending, due, delivered and refused (dead) statements with the LRS's errors."""
    from .xapi.delivery import status

    depth, dead, requeued = status(db_url, requeue_dead)
    if requeued:
        click.echo(f"requeued {requeued} dead statement(s)")
    click.echo(
        f"pending {depth.pending} (due now {depth.due}), delivered {depth.delivered}, dead {depth.dead}"
    )
    for statement_id, at, error in dead:
        click.echo(f"  dead {statement_id} at {at:%Y-%m-%d %H:%M:%S}: {error}")


@lrs.command("prune")
@_DB_OPTION
@click.option(
    "--older-than",
    "days",
    required=True,
    type=click.IntRange(1, 36500),
    metavar="DAYS",
    help="Delete statements delivered more than DAYS days ago.",
)
@click.option(
    "--undelivered",
    is_flag=True,
    help="Also delete never-sent statements created more than DAYS days ago: ONLY for a site without an "
    "LRS (refused while one is configured or at work).",
)
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100_000))
def lrs_prune(db_url: str, days: int, undelivered: bool, batch_size: int) -> None:
    """Delete old statements from the xAPI outbox, BATCH-SIZE rows per transaction (docs/xapi.md).

    Delivered statements are in the LRS already. Pending ones are kept unless --undelivered says this site
    has no LRS; refused (dead) ones are kept for `lrs status`."""
    from .xapi.delivery import prune_outbox

    report = prune_outbox(db_url, days, undelivered=undelivered, batch=batch_size)
    p, d = report.pruned, report.depth
    gone = f"pruned {p.delivered} delivered statement(s) older than {days} days"
    if undelivered:
        gone += f" and {p.undelivered} never sent"
    click.echo(f"{gone}; outbox: {d.pending} pending, {d.delivered} delivered, {d.dead} dead")


@cli.command()
@click.argument("url")
@click.option(
    "-o", "--output", "out", type=click.Path(path_type=Path), required=True, help="FILE.png or FILE.svg"
)
@click.option(
    "--scale", default=10, show_default=True, type=click.IntRange(1, 100), help="Pixels per module (PNG)."
)
def qr(url: str, out: Path, scale: int) -> None:
    """Write a QR code for URL as PNG or SVG (by the file's extension)."""
    from .results.poster import qr_file

    qr_file(url, out, scale=scale)
    click.echo(f"wrote {display_path(out)}")


@cli.command()
@click.argument("courses", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--base-url", required=True, help="The runtime's public address, e.g. https://mooc.example.go.th"
)
@click.option("--org-type", required=True, help="dla-central, dla-provincial, local-admin-org or public.")
@click.option("--province", required=True, help="Province name in Thai, e.g. เชียงใหม่.")
@click.option("--organisation", default=None, help="Organisation name printed and pre-filled (optional).")
@click.option("--logo", type=click.Path(path_type=Path), default=None, help="PNG, JPEG or SVG logo.")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True, help="Poster PDF.")
def poster(
    courses: tuple[Path, ...],
    base_url: str,
    org_type: str,
    province: str,
    organisation: str | None,
    logo: Path | None,
    out: Path,
) -> None:
    """A printable A4 Thai poster, one page per course folder in COURSES, whose QR registers and enrols."""
    from .results.poster import poster_course, render_poster, write_poster

    items = [poster_course(c) for c in courses]
    data = render_poster(items, base_url, org_type, province, organisation=organisation, logo=logo)
    write_poster(data, out)
    click.echo(f"wrote {display_path(out)} ({len(items)} page{'s' * (len(items) != 1)})")


@cli.command()
@click.option(
    "--round", "round_text", required=True, help="Evaluation round in B.E.: 2564/2 (1 Apr-30 Sep 2021)."
)
@click.option("--org-type", "org_types", multiple=True, help="Only this organisation type (repeatable).")
@click.option("--province", "provinces", multiple=True, help="Only this province, in Thai (repeatable).")
@click.option("--course", "courses", multiple=True, help="Only this course id (repeatable).")
@click.option(
    "--courses-dir",
    "course_dirs",
    multiple=True,
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Course source folder(s) to take course titles from.",
)
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json"]), default="csv", show_default=True)
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True)
@_DB_OPTION
def report(
    round_text: str,
    org_types: tuple[str, ...],
    provinces: tuple[str, ...],
    courses: tuple[str, ...],
    course_dirs: tuple[Path, ...],
    fmt: str,
    out: Path,
    db_url: str,
) -> None:
    """HR report of one evaluation round: completions per learner, totals by organisation type and province."""
    from .results.report import Filters, course_titles, run_report
    from .results.rounds import parse_round

    rnd = parse_round(round_text)
    titles = course_titles(course_dirs) if course_dirs else None
    result = run_report(db_url, rnd, Filters(org_types, provinces, courses), titles, fmt=fmt, out=out)
    g = result.grand_total
    click.echo(
        f"{rnd}: {g['completions']} completions by {g['learners']} learners, {g['hours']:g} hours "
        f"-> {display_path(out)}"
    )


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
