"""Field rules shared by every face (API, console, admin) through the models."""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

METADATA_MAX_KEYS = 100
METADATA_KEY_MAX_LENGTH = 100
METADATA_VALUE_MAX_LENGTH = 2000

# ValidationError codes that map to their own Midaz error code.
METADATA_KEY_TOO_LONG = "metadata_key_too_long"
METADATA_VALUE_TOO_LONG = "metadata_value_too_long"
METADATA_NESTED = "metadata_nested"
METADATA_TOO_MANY_KEYS = "metadata_too_many_keys"
INVALID_CHARACTERS = "invalid_characters"

# NUL (PostgreSQL's text and jsonb cannot hold it), the other C0 control characters but
# tab, line feed and carriage return (invisible; they corrupt logs, terminals and CSV
# files), and lone UTF-16 surrogates (not encodable as UTF-8, so not storable either).
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
INVALID_CHARACTERS_MESSAGE = (
    "may not contain NUL or other control characters (tab and line breaks are allowed) "
    "or unpaired surrogates"
)


def has_invalid_characters(text: str) -> bool:
    """Whether ``text`` holds a character that ``validate_text`` refuses."""
    return _UNSTORABLE.search(text) is not None


def validate_text(value: Any) -> None:
    """Stored text holds no NUL, no other C0 control character except tab, line feed and
    carriage return, and no unpaired surrogate. Every text field of the five entities,
    metadata keys and values and address parts follow this rule, on every face."""
    if isinstance(value, str) and has_invalid_characters(value):
        raise ValidationError(f"Text {INVALID_CHARACTERS_MESSAGE}.", code=INVALID_CHARACTERS)


def metadata_value_text(value: Any) -> str:
    """The text form of a flat metadata value, as filters compare it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def validate_metadata(metadata: Any) -> None:
    """Metadata is a flat object: at most 100 keys of at most 100 characters, each value a
    string, a finite number, a boolean or null whose text form is at most 2000 characters;
    keys and text values follow ``validate_text``."""
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise ValidationError("Metadata must be a JSON object.", code="invalid")
    if len(metadata) > METADATA_MAX_KEYS:
        raise ValidationError(
            f"Metadata may have at most {METADATA_MAX_KEYS} keys (got {len(metadata)}).",
            code=METADATA_TOO_MANY_KEYS,
        )
    for key, value in metadata.items():
        _validate_metadata_key(key)
        _validate_metadata_value(key, value)


def _validate_metadata_key(key: Any) -> None:
    if not isinstance(key, str) or not key.strip():
        raise ValidationError("Metadata keys must be non-empty text.", code="invalid")
    if has_invalid_characters(key):
        raise ValidationError(
            f"A metadata key {INVALID_CHARACTERS_MESSAGE}.", code=INVALID_CHARACTERS
        )
    if len(key) > METADATA_KEY_MAX_LENGTH:
        raise ValidationError(
            f"Metadata key '{key[:20]}…' is longer than {METADATA_KEY_MAX_LENGTH} characters.",
            code=METADATA_KEY_TOO_LONG,
            params={"key": key},
        )


def _validate_metadata_value(key: str, value: Any) -> None:
    if isinstance(value, dict | list | tuple):
        raise ValidationError(
            f"Metadata value of '{key}' is nested; values must be flat.",
            code=METADATA_NESTED,
            params={"key": key},
        )
    if isinstance(value, str) and has_invalid_characters(value):
        raise ValidationError(
            f"Metadata value of '{key}' {INVALID_CHARACTERS_MESSAGE}.",
            code=INVALID_CHARACTERS,
            params={"key": key},
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(
            f"Metadata value of '{key}' is not a finite number.",
            code="invalid",
            params={"key": key},
        )
    if len(metadata_value_text(value)) > METADATA_VALUE_MAX_LENGTH:
        raise ValidationError(
            f"Metadata value of '{key}' is longer than {METADATA_VALUE_MAX_LENGTH} characters.",
            code=METADATA_VALUE_TOO_LONG,
            params={"key": key},
        )


ALIAS_PATTERN = re.compile(r"^[A-Za-z0-9@_\-:./]+$")
EXTERNAL_ALIAS_PREFIX = "@external/"


def validate_alias(alias: str) -> None:
    """An alias uses letters, digits and ``@ _ - : . /`` and may not claim the reserved
    ``@external/`` prefix."""
    if not ALIAS_PATTERN.match(alias):
        raise ValidationError(
            "Alias may contain only letters, digits and @ _ - : . /", code="invalid"
        )
    if alias.lower().startswith(EXTERNAL_ALIAS_PREFIX):
        raise ValidationError("Aliases starting with @external/ are reserved.", code="invalid")


validate_asset_code = RegexValidator(
    r"^[A-Z0-9]+$", "Asset code must be upper-case letters and digits (e.g. BRL).", "invalid"
)

validate_country = RegexValidator(
    r"^[A-Z]{2}$", "Country must be an ISO 3166-1 alpha-2 code (e.g. BR).", "invalid"
)

ADDRESS_LIMITS = {
    "line1": 256,
    "line2": 256,
    "zipCode": 20,
    "city": 100,
    "state": 100,
    "country": 2,
}


def validate_address(address: Any) -> None:
    """An address has only line1, line2, zipCode, city, state and country (ISO alpha-2),
    each a text within its length."""
    if address is None:
        return
    if not isinstance(address, dict):
        raise ValidationError("Address must be an object.", code="invalid")
    unknown = sorted(set(address) - set(ADDRESS_LIMITS))
    if unknown:
        raise ValidationError(f"Unknown address fields: {', '.join(unknown)}.", code="invalid")
    for part, limit in ADDRESS_LIMITS.items():
        value = address.get(part)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ValidationError(f"Address {part} must be text.", code="invalid")
        if has_invalid_characters(value):
            raise ValidationError(
                f"Address {part} {INVALID_CHARACTERS_MESSAGE}.", code=INVALID_CHARACTERS
            )
        if len(value) > limit:
            raise ValidationError(
                f"Address {part} may have at most {limit} characters.", code="invalid"
            )
    if address.get("country"):
        validate_country(address["country"])


# Characters that change how a name reads without being seen: zero-width ones (U+200B
# space, U+200C/U+200D non-joiner/joiner, U+2060 word joiner, U+FEFF byte-order mark) and
# the bidirectional controls (U+200E/U+200F marks, U+202A–U+202E embeddings and
# overrides, U+2066–U+2069 isolates, U+061C Arabic letter mark).
INVISIBLE_NAME_CHARACTERS = frozenset(
    [
        *map(chr, range(0x200B, 0x200E)),
        "\u2060",
        "\ufeff",
        "\u200e",
        "\u200f",
        "\u061c",
        *map(chr, range(0x202A, 0x202F)),
        *map(chr, range(0x2066, 0x206A)),
    ]
)
_WITHOUT_INVISIBLE = dict.fromkeys(map(ord, INVISIBLE_NAME_CHARACTERS))


def normalize_name(name: str) -> str:
    """A name as it is stored and compared: without ``INVISIBLE_NAME_CHARACTERS``, in
    Unicode NFC, trimmed. So ``Bl\\u200back`` and ``Black`` (or a decomposed and a composed
    ``é``) are one name, and collide where names must be unique; and a right-to-left
    override cannot make a name read as another. Every named entity's names (segment,
    ledger, portfolio and account names, an organization's legal name and doing-business-
    as) pass through it in ``services.validation.validate``, so every face stores the same text."""
    return unicodedata.normalize("NFC", name.translate(_WITHOUT_INVISIBLE)).strip()
