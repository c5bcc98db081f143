"""Certificate numbers: ``LM-2564-K7QX-9MA2-D4PF``.

- ``LM``: an ASCII prefix of 2-8 letters (the issuing organisation, configurable);
- ``2564``: the B.E. year of issue, for people reading it;
- 11 random characters and 1 check character in Crockford's base-32 alphabet (no I, L, O, U), in groups of 4.

The random part (55 bits from :mod:`secrets`) makes numbers unguessable, so the public verification page cannot
be walked to collect names. The check character (Luhn mod 32 over year and random part) catches every
single-character typo and most swaps of neighbours before the database is asked. Reading is forgiving:
case, spaces and dashes are ignored, and O/I/L are read as 0/1/1, as Crockford suggests.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
RANDOM_CHARS = 11


def check_char(payload: str) -> str:
    """Luhn mod 32 check character for ``payload`` (characters of :data:`ALPHABET`)."""
    factor, total = 2, 0
    for ch in reversed(payload):
        addend = factor * _VALUE[ch]
        total += addend // 32 + addend % 32
        factor = 3 - factor
    return ALPHABET[(32 - total % 32) % 32]


def _grouped(prefix: str, year: str, body: str) -> str:
    return f"{prefix}-{year}-" + "-".join(body[i : i + 4] for i in range(0, len(body), 4))


def new_number(year_be: int, prefix: str = "LM") -> str:
    """A fresh certificate number for a certificate issued in B.E. ``year_be``."""
    if not re.fullmatch(r"[A-Z]{2,8}", prefix):
        raise ValueError(f"certificate prefix {prefix!r}: use 2-8 ASCII capital letters")
    year = f"{year_be:04d}"
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_CHARS))
    return _grouped(prefix, year, body + check_char(year + body))


def normalise(text: str) -> str | None:
    """The canonical form of a typed certificate number, or None when it cannot be one (bad shape or check)."""
    compact = re.sub(r"[\s\-]", "", text.upper())
    m = re.fullmatch(r"([A-Z]{2,8}?)(\d{4})([0-9A-Z]{12})", compact)
    if m is None:
        return None
    prefix, year, body = m[1], m[2], m[3].translate(_CONFUSABLE)
    if any(ch not in _VALUE for ch in body) or check_char(year + body[:-1]) != body[-1]:
        return None
    return _grouped(prefix, year, body)
