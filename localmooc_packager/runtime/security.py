"""Checks and secrets: national id check digit, keyed id hash, password policy and hashing, CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
import unicodedata
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import WeakKeyError

USERNAME = re.compile(r"^[a-z0-9._-]{3,64}$")  # after canonical_username (ASCII, lower case)
MIN_KEY = 32  # characters of the HMAC key: 32 hex digits are 128 bits
MIN_PASSWORD = 10
MAX_PASSWORD = 128
# The commonest choices; length does most of the work (NIST SP 800-63B), this list catches the rest.
COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "12345678910",
        "0123456789",
        "qwertyuiop",
        "password123",
        "password1234",
        "1111111111",
        "0000000000",
        "abcdefghij",
        "iloveyou12",
        "qwerty1234",
        "1q2w3e4r5t",
    }
)

# argon2id with the library's RFC 9106 "low memory" profile: ~50 ms per hash on a server core.
HASHER = PasswordHasher()
# Verified against when the username does not exist, so a miss costs as much time as a wrong password.
DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))


def national_id_valid(value: str) -> bool:
    """13 ASCII digits whose last is the mod-11 check digit of the first 12 (weights 13..2)."""
    if not re.fullmatch(r"[0-9]{13}", value):
        return False
    total = sum(int(d) * (13 - i) for i, d in enumerate(value[:12]))
    return (11 - total % 11) % 10 == int(value[12])


def ascii_digits(value: str) -> str:
    """Every decimal digit of any script (Thai, fullwidth, Arabic-Indic, Devanagari ...) as its ASCII digit.

    This is the only normalisation: it touches digits and nothing else, so Thai text is never NFKC'd.
    """
    return "".join(
        str(unicodedata.decimal(ch)) if unicodedata.decimal(ch, None) is not None else ch for ch in value
    )


def normalise_national_id(value: str) -> str:
    """The canonical form of a typed id: ASCII digits, spaces and dashes dropped (1-2345-67890-12-3).

    Anything else stays, so ``national_id_valid`` refuses it: one number has exactly one form, and so one
    HMAC (fullwidth or Arabic-Indic digits registered the same id again before)."""
    return re.sub(r"[\s\-\u2010-\u2015\u2212]", "", ascii_digits(value))


def canonical_username(value: str) -> str:
    """Usernames are compared case-folded (``Somchai`` and ``somchai`` are one account)."""
    return value.strip().casefold()


def username_problem(username: str) -> str | None:
    """Why a (canonical) username is refused, or None."""
    if not USERNAME.fullmatch(username):
        return "use 3-64 letters, digits, '.', '-' or '_'"
    if sum(ch.isdigit() for ch in username) >= 13:
        # 13 digits, with dashes or a suffix or not, would be a national id stored in clear.
        return "must not hold 13 or more digits (a national id)"
    return None


def password_problem(password: str, username: str) -> str | None:
    """Why a password is refused (English, for the API), or None."""
    if len(password) < MIN_PASSWORD:
        return f"at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"at most {MAX_PASSWORD} characters"
    if username and username.lower() in password.lower():
        return "must not contain the username"
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        return "too easy to guess"
    return None


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


class Secrets:
    """The server's key: HMAC of national ids and of session-bound CSRF tokens (stable across restarts,
    or de-duplication of national ids breaks)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY:
            raise WeakKeyError(f"the secret key has {len(key)} characters; at least {MIN_KEY} are needed")
        self.key = key

    @classmethod
    def load(cls, key_file: Path, env_key: str | None = None) -> Secrets:
        """``env_key`` (LOCALMOOC_SECRET_KEY) wins; otherwise the key file, created once (mode 0600).

        An existing file must be private (no group or other permission bits) and hold at least MIN_KEY
        characters: an empty file made the HMAC key empty."""
        if env_key is not None:
            return cls(env_key.encode())
        if not key_file.is_file():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        mode = stat.S_IMODE(key_file.stat().st_mode)
        if mode & 0o077:
            raise WeakKeyError(f"{key_file}: mode {mode:04o}; the key file must be private (chmod 600)")
        return cls(key_file.read_text().strip().encode())

    def national_id_hmac(self, national_id: str) -> str:
        return hmac.new(self.key, b"national-id:" + national_id.encode(), hashlib.sha256).hexdigest()

    def csrf_for_session(self, session_token: str) -> str:
        """The CSRF token of a session: bound to it, so a token planted or leaked elsewhere is useless."""
        return hmac.new(self.key, b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


def throttle_key(username: str, client: str) -> str:
    """The login throttle's key: one (canonical username, client address) pair, hashed."""
    return hashlib.sha256(f"{username}\x00{client}".encode()).hexdigest()


def verify_key(client: str) -> str:
    """The certificate look-up limit's key: one client address, hashed (apart from every login key, whose
    canonical username cannot hold a NUL)."""
    return hashlib.sha256(f"verify\x00\x00{client}".encode()).hexdigest()


def account_key(username: str) -> str:
    """The login throttle's account column: the canonical username, hashed (an admin's unlock clears by it)."""
    return hashlib.sha256(f"account\x00{username}".encode()).hexdigest()


def temporary_password() -> str:
    """A temporary password an admin hands over: 12 characters from an alphabet without look-alikes."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(12))
        if password_problem(value, "") is None:
            return value
