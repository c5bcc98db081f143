"""Accounts: registration (checks, canonical username and national id, keyed id hash), login (throttle,
uniform answers), sessions and the learner's own data (PDPA access and erasure)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from ..errors import Conflict, FieldProblem, Invalid, LoginFailed, Throttled
from ..i18n import LAWFUL_BASIS, PRIVACY_NOTICE_VERSION, PROVINCE_NAMES, t
from ..models import RegisterIn
from ..observe import LOGIN_THROTTLED
from ..security import (
    DUMMY_HASH,
    Secrets,
    canonical_username,
    hash_password,
    national_id_valid,
    normalise_national_id,
    password_problem,
    throttle_key,
    username_problem,
    verify_password,
)
from ..settings import Login
from ..storage import DuplicateError, Store
from ..storage.schema import now
from . import Runner


class Accounts:
    def __init__(self, store: Store, keys: Secrets, rules: Login, run: Runner) -> None:
        self.store = store
        self.keys = keys
        self.rules = rules
        self.run = run

    async def register(self, data: RegisterIn, lang: str) -> str:
        """The new learner's id; Invalid with every problem found, or Conflict (one answer whichever
        value is taken: it must not tell a stranger that a national id is registered)."""
        username = canonical_username(data.username)
        problems = self._problems(data, username, lang)
        nid_hmac = None
        if data.national_id and data.national_id.strip():
            nid = normalise_national_id(data.national_id)
            if national_id_valid(nid):
                nid_hmac = self.keys.national_id_hmac(nid)
            else:
                problems.append(
                    FieldProblem("national_id", "national-id-invalid", t(lang)["bad_national_id"])
                )
        if problems:
            raise Invalid(items=problems)
        basis = LAWFUL_BASIS[data.org_type]
        identity = {
            "username": username,
            "name": " ".join(data.name.split()),
            "national_id_hmac": nid_hmac,
            "org_type": data.org_type,
            "organisation": " ".join(data.organisation.split())[:200],
            "province": data.province,
            "lawful_basis": basis,
            "consent_version": PRIVACY_NOTICE_VERSION if data.consent or basis == "public-task" else None,
            "consent_at": now() if data.consent else None,
            "password_hash": await run_in_threadpool(hash_password, data.password),
        }
        try:
            return await self.run(self.store.create_learner, identity)  # type: ignore[no-any-return]
        except DuplicateError:
            tr = t(lang)
            raise Conflict(
                items=[FieldProblem("", "registration-conflict", tr["registration_conflict"])]
            ) from None

    @staticmethod
    def _problems(data: RegisterIn, username: str, lang: str) -> list[FieldProblem]:
        tr = t(lang)
        out: list[FieldProblem] = []
        if username_problem(username):
            out.append(FieldProblem("username", "username-invalid", tr["bad_username"]))
        why = password_problem(data.password, username)
        if why:
            out.append(FieldProblem("password", "password-weak", f"{tr['weak_password']}: {why}"))
        name = " ".join(data.name.split())
        if not name or len(name) > 200:
            out.append(FieldProblem("name", "name-missing", tr["bad_name"]))
        if data.province not in PROVINCE_NAMES:
            out.append(FieldProblem("province", "province-unknown", tr["bad_province"]))
        if LAWFUL_BASIS[data.org_type] == "consent" and not data.consent:
            out.append(FieldProblem("consent", "consent-required", tr["consent_required"]))
        return out

    async def login(self, username: str, password: str, client: str) -> tuple[str, str]:
        """(learner id, session token). The attempt is counted per (account, client) before any password
        is checked (Throttled while a wait runs); an unknown user costs the same work as a wrong
        password and gets the same LoginFailed."""
        username = canonical_username(username)
        key = throttle_key(username, client)
        wait = await self.run(self.store.login_attempt, key, self.rules)
        if wait is not None:
            LOGIN_THROTTLED.inc()
            raise Throttled(wait)
        ident = await self.run(self.store.identity_for_login, username)
        stored = ident["password_hash"] if ident else DUMMY_HASH
        if not await run_in_threadpool(verify_password, stored, password) or ident is None:
            await self.run(self.store.login_failed, ident["learner_id"] if ident else None)
            raise LoginFailed()
        token = await self.run(self.store.login_succeeded, ident["learner_id"], key, self.rules)
        return ident["learner_id"], token

    async def logout(self, token: str | None) -> None:
        if token:
            await self.run(self.store.logout, token)

    async def profile(self, learner_id: str) -> dict[str, Any] | None:
        return await self.run(self.store.profile, learner_id)  # type: ignore[no-any-return]

    async def export(self, learner_id: str) -> dict[str, Any]:
        """Everything held about the learner (PDPA right of access)."""
        return await self.run(self.store.export, learner_id)  # type: ignore[no-any-return]

    async def erase(self, learner_id: str) -> None:
        """PDPA erasure: identity, sessions and typed state go; numbers stay under the random id."""
        await self.run(self.store.erase, learner_id)
