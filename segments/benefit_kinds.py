"""The kinds of benefit and the rules of their ``parameters``: one JSON Schema per kind,
checked with ``jsonschema`` and shown as they are in the OpenAPI document (the ``oneOf``
of a benefit's ``parameters``, discriminated by ``kind``).

Amounts, percentages and multipliers are decimal strings (``"2.5"``), never JSON numbers:
a float cannot hold a money amount exactly. What JSON Schema cannot say of a decimal
string — its range — is ``DECIMAL_RANGES``. A key that the kind does not have is 0053
naming ``parameters.<key>``; any other broken rule is 0047 naming the same location.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from segments import errors
from segments.models import BenefitKind as Kind

DECIMAL = {
    "type": "string",
    "pattern": r"^[0-9]{1,12}(\.[0-9]{1,8})?$",
    "description": 'A decimal as text, e.g. "2.5".',
}
TEXT = {"type": "string", "minLength": 1, "maxLength": 256}
ASSET_CODE = {"type": "string", "pattern": "^[A-Z0-9]{1,10}$", "description": "e.g. BRL."}
PERIOD = {"type": "string", "enum": ["day", "month", "year"]}


def _object(properties: dict[str, Any], required: list[str] | None = None, **extra: Any):
    # No empty ``required``: OpenAPI 3.0 (the document's version) wants at least one name.
    return {
        "type": "object",
        "properties": properties,
        **({"required": required} if required else {}),
        "additionalProperties": False,
        **extra,
    }


PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    Kind.FEE_WAIVER: _object(
        {"feeKeys": {"type": "array", "items": TEXT, "maxItems": 100}, "transactionRoute": TEXT}
    ),
    Kind.FEE_DISCOUNT: _object(
        {"percentage": DECIMAL, "amount": DECIMAL, "assetCode": ASSET_CODE},
        description="Exactly one of `percentage` or `amount` with `assetCode`.",
        oneOf=[
            {"required": ["percentage"], "not": {"anyOf": [{"required": ["amount"]}]}},
            {"required": ["amount", "assetCode"], "not": {"required": ["percentage"]}},
        ],
    ),
    Kind.CASHBACK: _object(
        {
            "percentage": DECIMAL,
            "assetCode": ASSET_CODE,
            "cap": _object({"amount": DECIMAL, "period": PERIOD}, ["amount", "period"]),
            "transactionRoute": TEXT,
        },
        ["percentage", "assetCode"],
    ),
    Kind.RATE_BONUS: _object(
        {
            "basisPoints": {"type": "integer", "minimum": 1, "maximum": 10000},
            "appliesTo": {**TEXT, "description": "e.g. savings, deposit."},
        },
        ["basisPoints", "appliesTo"],
    ),
    Kind.POINTS_MULTIPLIER: _object({"multiplier": DECIMAL}, ["multiplier"]),
    Kind.SERVICE: _object(
        {
            "serviceCode": TEXT,
            "provider": TEXT,
            "allowance": _object(
                {"count": {"type": "integer", "minimum": 1}, "period": PERIOD},
                ["count", "period"],
            ),
        },
        ["serviceCode"],
    ),
    Kind.CUSTOM: {
        "type": "object",
        "maxProperties": 100,
        "additionalProperties": {
            "type": ["string", "number", "boolean", "null"],
            "maxLength": 2000,
        },
        "description": "A flat map, like metadata.",
    },
}
# Plain text keys: the schemas go into the OpenAPI document (JSON and YAML) as they are.
PARAMETER_SCHEMAS = {str(kind.value): schema for kind, schema in PARAMETER_SCHEMAS.items()}
KINDS = tuple(PARAMETER_SCHEMAS)

# (kind, path) → (lowest, whether the lowest itself is allowed, highest): the ranges of
# the decimal strings, which JSON Schema cannot compare.
DECIMAL_RANGES: dict[tuple[str, str], tuple[Decimal, bool, Decimal | None]] = {
    (Kind.FEE_DISCOUNT, "percentage"): (Decimal(0), False, Decimal(100)),
    (Kind.FEE_DISCOUNT, "amount"): (Decimal(0), False, None),
    (Kind.CASHBACK, "percentage"): (Decimal(0), False, Decimal(100)),
    (Kind.CASHBACK, "cap.amount"): (Decimal(0), False, None),
    (Kind.POINTS_MULTIPLIER, "multiplier"): (Decimal(1), True, Decimal(100)),
}

VALIDATORS = {kind: Draft202012Validator(schema) for kind, schema in PARAMETER_SCHEMAS.items()}


def _location(error: ValidationError, key: str | None = None) -> str:
    path = ".".join(str(part) for part in error.absolute_path)
    parts = ["parameters", *([path] if path else []), *([key] if key else [])]
    return ".".join(parts)


def _unexpected_keys(error: ValidationError) -> list[str]:
    allowed = set(error.schema.get("properties", {}))
    return sorted(key for key in error.instance if key not in allowed)


def _first_missing(error: ValidationError) -> str | None:
    return next((key for key in error.validator_value if key not in error.instance), None)


def _problems(kind: str, parameters: Any) -> tuple[dict[str, str], dict[str, str]]:
    """The unexpected keys and the broken rules of ``parameters``, by location."""
    unexpected: dict[str, str] = {}
    invalid: dict[str, str] = {}
    for error in VALIDATORS[kind].iter_errors(parameters):
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            for key in _unexpected_keys(error):
                unexpected[_location(error, key)] = f"not a parameter of {kind}"
        elif error.validator == "required":
            missing = _first_missing(error)
            invalid[_location(error, missing)] = "required"
        elif error.validator == "oneOf":
            invalid[_location(error)] = str(error.schema.get("description", error.message))
        else:
            invalid[_location(error)] = error.message
    return unexpected, invalid


def _range_problems(kind: str, parameters: Mapping[str, Any]) -> dict[str, str]:
    invalid: dict[str, str] = {}
    for (range_kind, path), (lowest, inclusive, highest) in DECIMAL_RANGES.items():
        value: Any = parameters
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if range_kind != kind or not isinstance(value, str):
            continue
        try:
            number = Decimal(value)
        except InvalidOperation:
            continue  # the pattern already refused it
        too_low = number < lowest or (number == lowest and not inclusive)
        if too_low or (highest is not None and number > highest):
            bound = f"{'≥' if inclusive else '>'} {lowest}"
            upper = f" and ≤ {highest}" if highest is not None else ""
            invalid[f"parameters.{path}"] = f"must be {bound}{upper}"
    return invalid


def validate_parameters(kind: str, parameters: Any) -> dict[str, Any]:
    """``parameters`` if they are what ``kind`` takes; else 0053 for a key it does not
    have, 0047 for any other broken rule, each naming ``parameters.<key>``. An unknown
    kind is 0047 on ``kind``."""
    if kind not in PARAMETER_SCHEMAS:
        raise errors.InvalidField(
            f"kind must be one of {', '.join(KINDS)}.",
            entity_type="Benefit",
            fields={"kind": f"one of {', '.join(KINDS)}"},
            values={"kind": kind},
        )
    if parameters is None:
        parameters = {}
    unexpected, invalid = _problems(kind, parameters)
    if unexpected:
        raise errors.UnexpectedParameters(entity_type="Benefit", fields=unexpected)
    if isinstance(parameters, Mapping):
        invalid |= _range_problems(kind, parameters)
    if invalid:
        described = "; ".join(f"{where}: {what}" for where, what in invalid.items())
        raise errors.InvalidParameters(
            f"Parameters of a {kind} benefit: {described}.",
            entity_type="Benefit",
            fields=invalid,
        )
    return dict(parameters)
