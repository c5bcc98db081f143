"""Accounts: registration (checks, canonical username and national id, keyed id hash), login (throttle,
uniform answers), sessions and the learner's own data (PDPA access and erasure)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from ..errors import Conflict, FieldProblem, Invalid, LoginFailed, NotFound, Throttled
from ..i18n import LAWFUL_BASIS, PRIVACY_NOTICE_VERSION, PROVINCE_NAMES, t
from ..models import RegisterIn
from ..observe import LOGIN_THROTTLED
from ..security import (
    DUMMY_HASH,
    Secrets,
    account_key,
    canonical_username,
    hash_password,
    national_id_valid,
    normalise_national_id,
    password_problem,
    temporary_password,
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
        wait = await self.run(self.store.login_attempt, key, self.rules, account_key(username))
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

    # ---- passwords
    async def change_password(
        self, learner_id: str, current: str, new: str, keep_token: str | None, lang: str
    ) -> int:
        """The learner's own change: the current password checked, the new one under the registration
        policy; every other session of the learner ends (the sessions ended)."""
        tr = t(lang)
        found = await self.run(self.store.password_hash_of, learner_id)
        if found is None:
            raise NotFound()
        username, stored = found
        problems: list[FieldProblem] = []
        if not await run_in_threadpool(verify_password, stored, current):
            problems.append(FieldProblem("current_password", "password-wrong", tr["wrong_password"]))
        why = password_problem(new, username)
        if why:
            problems.append(FieldProblem("new_password", "password-weak", f"{tr['weak_password']}: {why}"))
        elif new == current:
            problems.append(FieldProblem("new_password", "password-same", tr["same_password"]))
        if problems:
            raise Invalid(items=problems)
        new_hash = await run_in_threadpool(hash_password, new)
        return await self.run(self.store.change_password, learner_id, new_hash, keep_token)  # type: ignore[no-any-return]

    # ---- administrators
    async def _username(self, learner_id: str) -> str:
        username = await self.run(self.store.learner_username, learner_id)
        if username is None:  # no such learner, or erased: nothing to unlock or reset
            raise NotFound()
        return username  # type: ignore[no-any-return]

    async def unlock(self, admin_id: str, learner_id: str) -> int:
        """Clear the learner's login throttle (from every client) and lockout; audited."""
        username = await self._username(learner_id)
        return await self.run(self.store.unlock, admin_id, learner_id, account_key(username))  # type: ignore[no-any-return]

    async def set_temporary_password(self, admin_id: str, learner_id: str, password: str, lang: str) -> str:
        """Give the learner ``password`` (or a generated one when empty) to be changed at the next login;
        their sessions end. Returns the password, to be shown to the admin once; audited without it."""
        username = await self._username(learner_id)
        password = password or temporary_password()
        why = password_problem(password, username)
        if why:
            raise Invalid(
                items=[FieldProblem("password", "password-weak", f"{t(lang)['weak_password']}: {why}")]
            )
        new_hash = await run_in_threadpool(hash_password, password)
        await self.run(
            self.store.set_temporary_password, admin_id, learner_id, new_hash, account_key(username)
        )
        return password

    async def learner_results(self, admin_id: str, learner_id: str) -> dict[str, Any]:
        """A learner's enrolments, progress and course results for an admin; the view is audited."""
        found = await self.run(self.store.learner_results, admin_id, learner_id)
        if found is None:
            raise NotFound()
        found["audit"] = await self.run(self.store.audit_about, learner_id)
        return found  # type: ignore[no-any-return]
