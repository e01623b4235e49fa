"""What a borrower is found by: folded names, sounds-like keys, phone and ID keys. No I/O.

Elasticsearch does the fuzzy and prefix matching on the names, but some
spellings are further apart than any edit distance allows ("Mohamed" and
"Muhammad" are three edits apart). A sounds-like key computed here, at index
and at query time alike, brings them together, the same on a real cluster and
on the substitute (no analysis plugin needed).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import phonenumbers

from user_service.domain.borrower import id_number_key

# Soundex classes: letters that sound alike share a digit; vowels and h/w/y have none.
_CODES = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}
_VOWELS = frozenset("aeiouy")
_SPLIT = re.compile(r"[^a-z]+")
_PHONE_CHARS = re.compile(r"^[\d\s()+./-]+$")
MIN_PHONE_DIGITS = 6
MAX_KEY = 8


def fold(text: str) -> str:
    """Lower case ASCII: ``"José Ñúñez"`` -> ``"jose nunez"``."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.encode("ascii", "ignore").decode().lower()


def name_tokens(text: str) -> list[str]:
    return [t for t in _SPLIT.split(fold(text)) if t]


def sounds_like(token: str) -> str:
    """A Soundex-style key, with the first letter coded too and no 4-letter cut-off.

    "mohamed", "muhammad", "mohammed" -> "M53"; "jose", "josé" -> "J2";
    "catherine", "katherine" -> "K365"; "ibrahim", "ebrahim" -> "A165".
    """
    word = "".join(ch for ch in fold(token) if "a" <= ch <= "z")
    if not word:
        return ""
    if word.startswith("ph"):
        word = "f" + word[2:]
    first = word[0]
    if first in _VOWELS:
        head = "A"
    elif first in "ckq":
        head = "K"
    elif first in "sz":
        head = "S"
    else:
        head = first.upper()
    digits: list[str] = []
    previous = _CODES.get(first, "")
    for ch in word[1:]:
        code = _CODES.get(ch, "")
        if code and code != previous:
            digits.append(code)
        # h and w do not separate two equal codes; a vowel does.
        if ch not in "hw":
            previous = code
    return (head + "".join(digits))[:MAX_KEY]


def name_keys(names: Iterable[str]) -> list[str]:
    """The distinct sounds-like keys of every token of every name, in order."""
    keys: list[str] = []
    for name in names:
        for token in name_tokens(name):
            key = sounds_like(token)
            if len(token) > 1 and key and key not in keys:
                keys.append(key)
    return keys


def phone_keys(e164: str) -> list[str]:
    """Digit forms a stored E.164 number is found by: with and without the country code."""
    if not e164:
        return []
    digits = "".join(ch for ch in e164 if ch.isdigit())
    keys = [digits]
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return keys
    national = str(number.national_number)
    if national not in keys:
        keys.append(national)
    return keys


def query_phone_keys(query: str, default_region: str | None) -> list[str]:
    """The keys a phone-looking query may match; empty when it does not look like a phone."""
    text = query.strip()
    if not _PHONE_CHARS.match(text):
        return []
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) < MIN_PHONE_DIGITS:
        return []
    # "0712 345 678" (trunk prefix) and "00254..." (international prefix) both drop their zeros.
    keys = [digits]
    stripped = digits.lstrip("0")
    if stripped and stripped not in keys:
        keys.append(stripped)
    region = None if text.startswith("+") else default_region
    try:
        number = phonenumbers.parse(text if not text.startswith("00") else "+" + text[2:], region)
    except phonenumbers.NumberParseException:
        return keys
    for key in (f"{number.country_code}{number.national_number}", str(number.national_number)):
        if key not in keys:
            keys.append(key)
    return keys


def query_id_key(query: str) -> str:
    """An ID-number-looking query (it has a digit) as its normalised key, else ""."""
    key = id_number_key(query)
    return key if len(key) >= 2 and any(ch.isdigit() for ch in key) else ""
