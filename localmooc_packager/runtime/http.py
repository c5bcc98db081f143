"""HTTP in one place: the security headers, the cookie names, and the mapping of runtime errors to answers."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .errors import RuntimeProblem, Throttled
from .i18n import t

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
# Course files are the course author's, not the app's: a sandboxed document has an origin of its own,
# so an .html or .svg among them cannot script the app's pages, cookies-bound API or CSRF token.
COURSE_FILE_CSP = (
    "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'"
)
# Types a browser would run or render as a document: served as downloads.
ACTIVE_SUFFIXES = frozenset(
    {".html", ".htm", ".xhtml", ".svg", ".svgz", ".xml", ".xsl", ".xslt", ".js", ".mjs", ".pdf", ".swf"}
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def security_headers() -> list[tuple[bytes, bytes]]:
    return _HEADERS


@dataclass(frozen=True)
class CookieNames:
    """Under ``--secure-cookies`` the names carry the ``__Host-`` prefix: the browser then only accepts
    them over HTTPS, for path /, from this host (no Domain), so a sibling subdomain cannot plant them."""

    session: str
    csrf: str
    lang: str = "lm_lang"

    @classmethod
    def for_(cls, secure: bool) -> CookieNames:
        prefix = "__Host-" if secure else ""
        return cls(prefix + "lm_session", prefix + "lm_csrf")


def problem_message(problem: RuntimeProblem, lang: str) -> str:
    tr = t(lang)
    if problem.message:
        return problem.message
    text = tr.get(problem.code) or tr.get(
        {404: "not_found", 403: "forbidden"}.get(problem.status, "error"), ""
    )
    if isinstance(problem, Throttled):
        text = text.format(seconds=problem.retry_after)
    return text


def problem_body(problem: RuntimeProblem, lang: str) -> bytes:
    """The JSON of an API error. Field problems (registration) as a list of {field, code, message}."""
    if problem.items:
        detail: object = [{"field": i.field, "code": i.code, "message": i.message} for i in problem.items]
        return json.dumps({"detail": detail}, ensure_ascii=False).encode()
    out = {"detail": problem.code, "message": problem_message(problem, lang)}
    return json.dumps(out, ensure_ascii=False).encode()


def problem_headers(problem: RuntimeProblem) -> dict[str, str]:
    return {"retry-after": str(problem.retry_after)} if isinstance(problem, Throttled) else {}
