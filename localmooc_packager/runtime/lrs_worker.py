"""``serve``'s own xAPI delivery worker (optional): ``localmooc lrs push --loop`` in a thread of the node.

A small site then needs no second service. It is on when the node's environment names the LRS:
``LOCALMOOC_LRS_URL`` (the xAPI endpoint), ``LOCALMOOC_LRS_USER`` and ``LOCALMOOC_LRS_PASSWORD_FILE`` (a
file whose first line is the password: never the password itself in the environment). One worker runs
per ``serve`` process (the supervisor, not each uvicorn worker). Several nodes may each run one: the outbox
is claimed with leases and ``SKIP LOCKED`` (xapi/outbox.py), so no statement is sent twice at once, and the
deterministic statement ids make a resend after a crash harmless. Backoff, poison statements and a
database restart are handled by ``xapi.delivery.Pusher.loop`` exactly as under ``lrs push``, and so is
retention: with ``LOCALMOOC_XAPI_RETENTION_DAYS=N`` the worker deletes statements delivered more than N
days ago (hourly, when idle; docs/xapi.md, "Retention").
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from ..errors import UsageError

log = logging.getLogger("localmooc.xapi")
ENV = ("LOCALMOOC_LRS_URL", "LOCALMOOC_LRS_USER", "LOCALMOOC_LRS_PASSWORD_FILE")


@dataclass(frozen=True)
class LrsTarget:
    url: str
    user: str
    password_file: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LrsTarget | None:
        """All three variables, or none (off); some but not all is a mistake said at once."""
        e = os.environ if env is None else env
        values = [e.get(name, "") for name in ENV]
        if not any(values):
            return None
        missing = [name for name, value in zip(ENV, values, strict=True) if not value]
        if missing:
            raise UsageError(f"xAPI delivery in serve needs {', '.join(ENV)}; missing: {', '.join(missing)}")
        if not values[0].startswith(("http://", "https://")):
            raise UsageError(f"LOCALMOOC_LRS_URL must be the LRS's xAPI endpoint, not {values[0]!r}")
        return cls(values[0], values[1], Path(values[2]))


class EmbeddedPusher:
    """The delivery loop in a daemon thread; ``stop`` ends it and waits for the batch in hand."""

    def __init__(
        self,
        db_url: str,
        target: LrsTarget,
        batch_size: int = 100,
        idle_s: float = 1.0,
        retention_days: int | None = None,
    ) -> None:
        from ..xapi.delivery import Pusher, _engine, read_password

        password = read_password(target.password_file)  # a bad file stops serve before it starts
        self.engine = _engine(db_url)  # the outbox table must be there (db upgrade)
        retention = timedelta(days=retention_days) if retention_days else None
        self.pusher = Pusher(
            self.engine, target.url, (target.user, password), batch_size=batch_size, retention=retention
        )
        self.idle_s = idle_s
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="lm-xapi-push", daemon=True)

    def start(self) -> EmbeddedPusher:
        self.thread.start()
        return self

    def _run(self) -> None:
        from ..xapi.delivery import LrsRefusedError

        try:
            self.pusher.loop(self._stop, self.idle_s)
        except LrsRefusedError as exc:  # wrong credentials or scope: retrying cannot help
            log.error("xAPI delivery stopped: %s (statements stay in the outbox)", exc)
        except Exception:  # a bug must not take the node down; the outbox keeps everything
            log.exception("xAPI delivery stopped by an unexpected error (statements stay in the outbox)")

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=60)
        self.pusher.close()
        self.engine.dispose()


def start_from_env(db_url: str) -> EmbeddedPusher | None:
    from ..xapi.delivery import retention_from_env

    target = LrsTarget.from_env()
    days = retention_from_env()  # a bad value stops serve at start, LRS or not
    if target is None:
        return None
    pusher = EmbeddedPusher(db_url, target, retention_days=days).start()
    kept = f"; delivered statements kept {days} days" if days else ""
    print(f"xAPI delivery: outbox -> {target.url} as {target.user} (in this process){kept}")
    return pusher
