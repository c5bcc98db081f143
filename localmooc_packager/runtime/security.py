"""Checks and secrets: national id check digit, keyed id hash, password policy and hashing, CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

USERNAME = re.compile(r"^[A-Za-z0-9._-]{3,64}$")
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
    """13 digits whose last is the mod-11 check digit of the first 12 (weights 13..2)."""
    if not re.fullmatch(r"\d{13}", value):
        return False
    total = sum(int(d) * (13 - i) for i, d in enumerate(value[:12]))
    return (11 - total % 11) % 10 == int(value[12])


def normalise_national_id(value: str) -> str:
    """People type ids with dashes or spaces (1-2345-67890-12-3); Thai digits are accepted too."""
    return re.sub(r"[\s-]", "", value.translate(str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")))


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
    """The server's key: HMAC of national ids (stable across restarts, or de-duplication breaks)."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    @classmethod
    def load(cls, key_file: Path) -> Secrets:
        """LOCALMOOC_SECRET_KEY (hex or text) wins; otherwise a key file is created once (mode 0600)."""
        env = os.environ.get("LOCALMOOC_SECRET_KEY")
        if env:
            return cls(env.encode())
        if not key_file.is_file():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return cls(key_file.read_text().strip().encode())

    def national_id_hmac(self, national_id: str) -> str:
        return hmac.new(self.key, b"national-id:" + national_id.encode(), hashlib.sha256).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))
