"""A benefit in words, for people: its parameters ("2.5 % cashback on BRL, up to 50.00 a
month") and its window, in the reader's language. Used by the segment's history and the
console's benefit lists."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from segments.models import BenefitKind

KIND_LABELS = {
    BenefitKind.FEE_WAIVER: _("Fee waiver"),
    BenefitKind.FEE_DISCOUNT: _("Fee discount"),
    BenefitKind.CASHBACK: _("Cashback"),
    BenefitKind.RATE_BONUS: _("Rate bonus"),
    BenefitKind.POINTS_MULTIPLIER: _("Points multiplier"),
    BenefitKind.SERVICE: _("Service"),
    BenefitKind.CUSTOM: _("Custom"),
}
PERIODS = {"day": _("a day"), "month": _("a month"), "year": _("a year")}


def _period(value: Any) -> str:
    return str(PERIODS.get(value, value))


def _per_period(template: str, limit: Mapping[str, Any] | None, quantity: str) -> str:
    """``template`` filled with a limit's quantity and its period ("up to 50.00 a
    month"), or nothing when there is no limit."""
    if not limit:
        return ""
    return template % {quantity: limit.get(quantity), "period": _period(limit.get("period"))}


def _fee_waiver(parameters: Mapping[str, Any]) -> str:
    text = gettext("Fee waiver")
    if parameters.get("feeKeys"):
        text = gettext("Fee waiver of %(fees)s") % {"fees": ", ".join(parameters["feeKeys"])}
    if parameters.get("transactionRoute"):
        text += gettext(" on route %(route)s") % {"route": parameters["transactionRoute"]}
    return text


def _fee_discount(parameters: Mapping[str, Any]) -> str:
    if parameters.get("percentage") is not None:
        return gettext("%(percentage)s %% off fees") % {"percentage": parameters["percentage"]}
    return gettext("%(amount)s %(asset)s off fees") % {
        "amount": parameters.get("amount"),
        "asset": parameters.get("assetCode"),
    }


def _cashback(parameters: Mapping[str, Any]) -> str:
    text = gettext("%(percentage)s %% cashback on %(asset)s") % {
        "percentage": parameters.get("percentage"),
        "asset": parameters.get("assetCode"),
    }
    return text + _per_period(
        gettext(", up to %(amount)s %(period)s"), parameters.get("cap"), "amount"
    )


def _rate_bonus(parameters: Mapping[str, Any]) -> str:
    return gettext("+%(points)s basis points on %(product)s") % {
        "points": parameters.get("basisPoints"),
        "product": parameters.get("appliesTo"),
    }


def _points(parameters: Mapping[str, Any]) -> str:
    return gettext("%(multiplier)s× points") % {"multiplier": parameters.get("multiplier")}


def _service(parameters: Mapping[str, Any]) -> str:
    text = gettext("Service %(code)s") % {"code": parameters.get("serviceCode")}
    if parameters.get("provider"):
        text += gettext(" by %(provider)s") % {"provider": parameters["provider"]}
    allowance = parameters.get("allowance")
    return text + _per_period(gettext(", %(count)s %(period)s"), allowance, "count")


def _custom(parameters: Mapping[str, Any]) -> str:
    pairs = ", ".join(f"{key}={value}" for key, value in sorted(parameters.items()))
    return gettext("Custom: %(pairs)s") % {"pairs": pairs} if pairs else gettext("Custom")


DESCRIBERS = {
    BenefitKind.FEE_WAIVER: _fee_waiver,
    BenefitKind.FEE_DISCOUNT: _fee_discount,
    BenefitKind.CASHBACK: _cashback,
    BenefitKind.RATE_BONUS: _rate_bonus,
    BenefitKind.POINTS_MULTIPLIER: _points,
    BenefitKind.SERVICE: _service,
    BenefitKind.CUSTOM: _custom,
}


def parameters_in_words(kind: str, parameters: Mapping[str, Any] | None) -> str:
    """What the benefit grants, in a sentence of the reader's language."""
    describe = DESCRIBERS.get(kind)
    return describe(parameters or {}) if describe else str(kind)


def _instant_text(value: dt.datetime | str) -> str:
    """An instant as the reader's locale writes it (the history keeps ISO text)."""
    instant = parse_datetime(value) if isinstance(value, str) else value
    if instant is None:
        return str(value)
    return f"{date_format(instant, 'DATETIME_FORMAT')} UTC"


def window_in_words(
    valid_from: dt.datetime | str | None, valid_until: dt.datetime | str | None
) -> str:
    """The validity window ``[from, until)``, in the reader's words and date format (UTC)."""
    start = _instant_text(valid_from) if valid_from else None
    end = _instant_text(valid_until) if valid_until else None
    if start and end:
        return gettext("from %(start)s until %(end)s") % {"start": start, "end": end}
    if start:
        return gettext("from %(start)s") % {"start": start}
    if end:
        return gettext("until %(end)s") % {"end": end}
    return gettext("always")
