"""HTTP routers by audience: learner pages, learner API, admin, assets. Each route is a few lines: it
reads the request, calls a service, shapes the answer; the rules live in ``../services``."""

from __future__ import annotations

from ..models import ErrorOut

ERR = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}}
# A JSON body that is not UTF-8, too deep or with NaN is refused with a 400; a missing CSRF token with a 403.
BAD_BODY = {400: {"model": ErrorOut}, 403: {"model": ErrorOut}, 413: {"model": ErrorOut}}
