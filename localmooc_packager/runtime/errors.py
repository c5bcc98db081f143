"""The runtime's errors: one family under the package's root, each with its HTTP status and a stable code.

Services raise these and know nothing of HTTP; ``http.py`` maps the family to responses in one place
(JSON for ``/api/``, a page otherwise). ``code`` doubles as the key of the message in ``i18n``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LocalMoocError, UsageError


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one input of a request (registration collects them all)."""

    field: str
    code: str
    message: str


class RuntimeProblem(LocalMoocError):
    """A request the runtime refuses. ``code`` is the i18n key of the message for people."""

    status = 400
    code = "error"

    def __init__(
        self, code: str | None = None, message: str = "", items: list[FieldProblem] | None = None
    ) -> None:
        super().__init__(message or code or self.code)
        if code:
            self.code = code
        self.message = message
        self.items = items or []


class BadRequest(RuntimeProblem):
    status, code = 400, "bad_request"


class LoginRequired(RuntimeProblem):
    status, code = 401, "login_required"


class LoginFailed(RuntimeProblem):
    status, code = 401, "bad_login"


class Forbidden(RuntimeProblem):
    status, code = 403, "forbidden"


class PasswordChangeRequired(Forbidden):
    """The session was opened with a temporary password: only the change-password page (and logout) is open."""

    code = "password_change_required"


class NotFound(RuntimeProblem):
    status, code = 404, "not_found"


class Conflict(RuntimeProblem):
    status, code = 409, "conflict"


class TooLarge(RuntimeProblem):
    status, code = 413, "too_large"


class Invalid(RuntimeProblem):
    status, code = 422, "invalid"


class Throttled(RuntimeProblem):
    """Too many failed logins for this account from this client: try again after ``retry_after`` s."""

    status, code = 429, "throttled"

    def __init__(self, retry_after: int, message: str = "") -> None:
        super().__init__(None, message)
        self.retry_after = retry_after


class TooManyLookups(Throttled):
    """Too many certificate look-ups from this client this minute: try again after ``retry_after`` s."""

    code = "verify_throttled"


class RequestTimeout(RuntimeProblem):
    status, code = 408, "timeout"


class WeakKeyError(UsageError):
    """The secret key (file or LOCALMOOC_SECRET_KEY) is missing, too short or readable by others."""


class SessionRefused(Exception):
    """A handler call whose session is missing, expired or revoked, or whose learner is not enrolled.

    Internal to the batch path: the route turns it into ``LoginRequired`` or ``Forbidden``."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why
