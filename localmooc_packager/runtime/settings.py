"""The runtime's settings: one frozen object, built at the edge (the CLI's options, or the environment of a
uvicorn worker) and handed down. Nothing below ``app.create_app`` reads the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from .clock import Clock, system_clock

DEFAULT_DB = "sqlite:///./localmooc.db"
KEY_FILE_NAME = "localmooc-secret.key"
ENV_PREFIX = "LOCALMOOC_"


@dataclass(frozen=True)
class Limits:
    """What one request may cost. A proxy in front should enforce its own (docs/security.md)."""

    max_body: int = 64 * 1024  # every request body, any transfer encoding, counted before parsing
    body_timeout: float = 15.0  # seconds to receive a whole body once the headers are in
    header_timeout: float = 10.0  # seconds from connection (or the previous response) to complete headers
    max_json_depth: int = 16  # nesting of any JSON body (quiz answers are 3 deep)
    max_answer_chars: int = 4000  # one string inside an answer
    max_admin_offset: int = 10**9


@dataclass(frozen=True)
class Login:
    """Throttling of failed logins, per (account, client): see docs/security.md."""

    free_failures: int = 5  # failures before the first wait
    first_wait: timedelta = timedelta(seconds=30)  # doubles with each further failure ...
    max_wait: timedelta = timedelta(minutes=15)  # ... up to this
    session_ttl: timedelta = timedelta(hours=12)  # absolute session lifetime
    idle_ttl: timedelta = timedelta(hours=2)  # a session unused this long ends


VERIFY_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class Settings:
    courses: Path
    db_url: str = DEFAULT_DB
    secure_cookies: bool = False  # Secure + __Host- cookie names (behind HTTPS)
    trusted_html: bool = False  # serve course HTML unsanitised
    migrate: bool = True  # SQLite: bring the schema up to date at start
    key_file: Path | None = None  # default: next to the SQLite file, else the working directory
    secret_key: str | None = None  # LOCALMOOC_SECRET_KEY, wins over the key file
    limits: Limits = Limits()
    login: Login = Login()
    # LOCALMOOC_VERIFY_LIMIT: certificate look-ups (/verify/{no}, /api/verify/{no}) per client address and
    # minute, shared by every node through the database; 0 turns the limit off (docs/certificates.md).
    verify_limit: int = 30
    log_format: str = "text"  # "json": one JSON line per request on stderr (docs/operations.md)
    metrics_token: str | None = None  # LOCALMOOC_METRICS_TOKEN: /metrics from off the machine with it
    version_poll: float = 2.0  # LOCALMOOC_VERSION_POLL: seconds between looks for a newly published version
    # PostgreSQL (docs/operations.md, "Scaling out"): connections kept per worker process
    # (LOCALMOOC_DB_POOL_SIZE), and psycopg's server-side prepared statements: auto|on|off
    # (LOCALMOOC_DB_PREPARE; "auto" turns them off behind a pooler such as PgBouncer).
    db_pool_size: int | None = None
    db_prepare: str = "auto"
    # The organisation's certificate template (YAML, docs/certificates.md).
    certificate_template: Path | None = None
    public_url: str | None = None  # this runtime's public address: the certificates' QR codes open it
    # xAPI statements into the outbox with each event (docs/xapi.md); the actor's account home page.
    xapi: bool = True  # LOCALMOOC_XAPI=0 turns it off
    xapi_home_page: str = "http://localhost"  # LOCALMOOC_XAPI_HOME_PAGE: the site's public URL
    # Test/operator hook (runtime/clock.py): the time of learning events. Not in the environment.
    clock: Clock = field(default=system_clock, compare=False, repr=False)

    def key_path(self) -> Path:
        if self.key_file is not None:
            return self.key_file
        from sqlalchemy.engine import make_url

        u = make_url(self.db_url)
        if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
            return Path(u.database).resolve().parent / KEY_FILE_NAME
        return Path.cwd() / KEY_FILE_NAME

    def to_env(self) -> dict[str, str]:
        """For uvicorn workers, which build the app from the environment (``from_env``)."""
        env = {
            "COURSES": str(self.courses.resolve()),
            "DB": self.db_url,
            "SECURE_COOKIES": "1" if self.secure_cookies else "0",
            "TRUSTED_HTML": "1" if self.trusted_html else "0",
            "MIGRATE": "1" if self.migrate else "0",
            "KEY_FILE": str(self.key_path()),
            "LOG_FORMAT": self.log_format,
            "VERSION_POLL": repr(self.version_poll),
            "DB_PREPARE": self.db_prepare,
            "XAPI": "1" if self.xapi else "0",
            "XAPI_HOME_PAGE": self.xapi_home_page,
        }
        if self.db_pool_size is not None:
            env["DB_POOL_SIZE"] = str(self.db_pool_size)
        if self.certificate_template is not None:
            env["CERTIFICATE_TEMPLATE"] = str(self.certificate_template.resolve())
        if self.public_url:
            env["PUBLIC_URL"] = self.public_url
        if self.verify_limit != Settings.verify_limit:  # else the operator's LOCALMOOC_VERIFY_LIMIT stands
            env["VERIFY_LIMIT"] = str(self.verify_limit)
        return {ENV_PREFIX + k: v for k, v in env.items()}

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        key_file = e.get(ENV_PREFIX + "KEY_FILE")
        template = e.get(ENV_PREFIX + "CERTIFICATE_TEMPLATE")
        return cls(
            courses=Path(e[ENV_PREFIX + "COURSES"]),
            db_url=e.get(ENV_PREFIX + "DB", DEFAULT_DB),
            secure_cookies=e.get(ENV_PREFIX + "SECURE_COOKIES") == "1",
            trusted_html=e.get(ENV_PREFIX + "TRUSTED_HTML") == "1",
            migrate=e.get(ENV_PREFIX + "MIGRATE", "1") == "1",
            key_file=Path(key_file) if key_file else None,
            secret_key=e.get(ENV_PREFIX + "SECRET_KEY") or None,
            log_format=e.get(ENV_PREFIX + "LOG_FORMAT", "text"),
            metrics_token=e.get(ENV_PREFIX + "METRICS_TOKEN") or None,
            version_poll=version_poll(e.get(ENV_PREFIX + "VERSION_POLL")),
            **db_options(e),
            certificate_template=Path(template) if template else None,
            public_url=e.get(ENV_PREFIX + "PUBLIC_URL") or None,
            xapi=e.get(ENV_PREFIX + "XAPI", "1") == "1",
            xapi_home_page=e.get(ENV_PREFIX + "XAPI_HOME_PAGE") or "http://localhost",
            verify_limit=verify_limit(e.get(ENV_PREFIX + "VERIFY_LIMIT")),
        )


def version_poll(value: str | None) -> float:
    """LOCALMOOC_VERSION_POLL: seconds (0.2 to 3600) between a node's looks for a new course version."""
    if not value:
        return Settings.version_poll
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0.2 <= seconds <= 3600:
        from ..errors import UsageError

        raise UsageError(f"LOCALMOOC_VERSION_POLL={value!r}: give seconds between 0.2 and 3600")
    return seconds


def verify_limit(value: str | None) -> int:
    """LOCALMOOC_VERIFY_LIMIT: certificate look-ups per client and minute (0: no limit)."""
    if not value:
        return Settings.verify_limit
    if not value.isdigit() or int(value) > 100_000:
        from ..errors import UsageError

        raise UsageError(f"LOCALMOOC_VERIFY_LIMIT={value!r}: give look-ups per minute, 0 (off) to 100000")
    return int(value)


def db_options(env: dict[str, str] | os._Environ[str]) -> dict[str, Any]:
    """``db_pool_size`` and ``db_prepare`` from LOCALMOOC_DB_POOL_SIZE / LOCALMOOC_DB_PREPARE."""
    from ..errors import UsageError

    out: dict[str, Any] = {}
    size = env.get(ENV_PREFIX + "DB_POOL_SIZE")
    if size:
        if not size.isdigit() or not 1 <= int(size) <= 1000:
            raise UsageError(f"LOCALMOOC_DB_POOL_SIZE={size!r}: give a number of connections, 1 to 1000")
        out["db_pool_size"] = int(size)
    prepare = env.get(ENV_PREFIX + "DB_PREPARE")
    if prepare:
        if prepare not in ("auto", "on", "off"):
            raise UsageError(f"LOCALMOOC_DB_PREPARE={prepare!r}: use auto, on or off")
        out["db_prepare"] = prepare
    return out
