"""Idempotent demo data for ``make run``: running it again changes nothing but the
printed API token (a new one each run; older demo tokens are revoked)."""

from __future__ import annotations

import datetime as dt
import random

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from segments import services
from segments.models import (
    Account,
    ApiToken,
    Benefit,
    Ledger,
    Membership,
    Organization,
    Role,
    Segment,
    SegmentRule,
)

ORGANIZATION = {"legal_name": "Lerian Bank", "legal_document": "12345678000199"}
LEDGERS = ["Cards", "Banking"]
LEDGER_SEGMENTS = {
    "Black": {
        "description": "Premium cards: lounge access, insurance, concierge.",
        "metadata": {"tier": "black", "lounge": True},
    },
    "Platinum": {
        "description": "High-limit cards with travel benefits.",
        "metadata": {"tier": "platinum"},
    },
    "Student": {
        "description": "Fee-free account with cashback on education.",
        "metadata": {"tier": "student", "cashback": "2%"},
    },
}
# One dynamic segment (in the "Cards" ledger), so that a new user sees a rule at work: its
# members are the unassigned accounts whose metadata says tier black.
DYNAMIC_SEGMENT = (
    "Tier black (dynamic)",
    {"description": "Every account whose metadata says tier black, chosen by its rule."},
    {"expression": 'metadata.tier == "black"', "subject": "account", "priority": 10},
)
ORGANIZATION_SEGMENT = (
    "Private",
    {
        "description": "Private banking clients across every ledger.",
        "metadata": {"manager": "desk-1"},
    },
)
# The product's examples, with one expired and one future benefit so that a new user
# sees applied and not-applied benefits at once. (name, kind, parameters, extra fields)
LAUNCH_END = dt.datetime(2026, 1, 31, tzinfo=dt.UTC)
NEXT_PARTNER = dt.datetime(2027, 6, 1, tzinfo=dt.UTC)
BENEFITS = {
    "Black": [
        ("VIP lounge", "service", {"serviceCode": "vip-lounge", "provider": "LoungeKey"}, {}),
        ("Travel insurance", "service", {"serviceCode": "travel-insurance"}, {}),
        ("Concierge", "service", {"serviceCode": "concierge"}, {}),
        ("Double points", "pointsMultiplier", {"multiplier": "2"}, {"exclusivityGroup": "points"}),
        (
            "Partner lounges 2027",
            "service",
            {"serviceCode": "partner-lounges"},
            {"validFrom": NEXT_PARTNER},
        ),
    ],
    "Platinum": [
        ("Travel insurance", "service", {"serviceCode": "travel-insurance"}, {}),
        ("Points x1.5", "pointsMultiplier", {"multiplier": "1.5"}, {"exclusivityGroup": "points"}),
    ],
    "Student": [
        ("Fee-free account", "feeWaiver", {"feeKeys": ["account-maintenance"]}, {}),
        (
            "Education cashback",
            "cashback",
            {
                "percentage": "2",
                "assetCode": "BRL",
                "cap": {"amount": "50.00", "period": "month"},
                "transactionRoute": "education",
            },
            {},
        ),
        ("Cinema discount", "feeDiscount", {"percentage": "50"}, {}),
        (
            "Launch cashback",
            "cashback",
            {"percentage": "5", "assetCode": "BRL"},
            {"validUntil": LAUNCH_END},
        ),
    ],
}
ACCOUNTS_PER_LEDGER = 30
PORTFOLIOS_PER_LEDGER = 3
USERS = [("demo", Role.OPERATOR), ("demo-admin", Role.ADMIN), ("demo-viewer", Role.VIEWER)]
ACCOUNT_TYPES = ["deposit", "savings", "creditCard"]


class Command(BaseCommand):
    help = "Load the demo organization, ledgers, segments, accounts, portfolios and users."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="console URL to print")

    def handle(self, *args, url: str, **options) -> None:
        with transaction.atomic():
            users = self._users()
            actor = users["demo-admin"]
            organization = Organization.objects.filter(
                legal_name=ORGANIZATION["legal_name"]
            ).first()
            if organization is None:
                organization = services.create_organization(actor, **ORGANIZATION)
            for username, role in USERS:
                Membership.objects.update_or_create(
                    user=users[username], organization=organization, defaults={"role": role}
                )
            private = self._segment(actor, organization, None, *ORGANIZATION_SEGMENT)
            for ledger_name in LEDGERS:
                self._ledger(actor, organization, ledger_name, private)
            demo = users["demo"]
            ApiToken.objects.filter(user=demo, name="demo").delete()
            _, token = ApiToken.issue(demo, name="demo")
        ledger = Ledger.objects.get(organization=organization, name="Cards")
        self.stdout.write(
            "\nDemo data ready.\n"
            f"  Console:  {url}/organizations/{organization.pk}/ledgers/{ledger.pk}/segments/\n"
            "  Login:    demo / demo  (operator)   ·   demo-admin / demo (admin)   ·   "
            "demo-viewer / demo (viewer)\n"
            f'  API:      curl -H "Authorization: Bearer {token}" {url}/v1/organizations\n'
            f"  API token (user demo): {token}\n"
        )

    def _users(self) -> dict:
        user_model = get_user_model()
        users = {}
        for username, _ in USERS:
            user, created = user_model.objects.get_or_create(username=username)
            if created:
                user.set_password("demo")
                user.save()
            users[username] = user
        return users

    def _segment(self, actor, organization, ledger, name, fields) -> Segment:
        existing = Segment.objects.filter(
            organization=organization, ledger=ledger, name=name
        ).first()
        return existing or services.create_segment(
            actor, ledger or organization, name=name, **fields
        )

    def _benefits(self, actor, segment: Segment) -> None:
        existing = set(Benefit.objects.filter(segment=segment).values_list("name", flat=True))
        for name, kind, parameters, extra in BENEFITS.get(segment.name, []):
            if name in existing:
                continue
            fields = {
                "valid_from": extra.get("validFrom"),
                "valid_until": extra.get("validUntil"),
                "exclusivity_group": extra.get("exclusivityGroup"),
            }
            services.create_benefit(
                actor, segment, name=name, kind=kind, parameters=parameters, **fields
            )

    def _dynamic(self, actor, organization, ledger) -> None:
        name, fields, rule = DYNAMIC_SEGMENT
        segment = self._segment(actor, organization, ledger, name, fields)
        if not SegmentRule.objects.filter(segment=segment).exists():
            services.put_rule(actor, segment, rule["expression"], rule["subject"], rule["priority"])

    def _ledger(self, actor, organization, name, private) -> None:
        ledger = Ledger.objects.filter(organization=organization, name=name).first()
        if ledger is None:
            ledger = services.create_ledger(actor, organization, name=name)
        segments = [
            self._segment(actor, organization, ledger, seg_name, fields)
            for seg_name, fields in LEDGER_SEGMENTS.items()
        ]
        for segment in segments:
            self._benefits(actor, segment)
        if name == LEDGERS[0]:
            self._dynamic(actor, organization, ledger)
        if not Account.objects.filter(ledger=ledger).exists():
            self._members(actor, ledger, [*segments, private, None])

    def _members(self, actor, ledger, choices: list) -> None:
        name = ledger.name
        rng = random.Random(name)
        portfolios = []
        for index in range(PORTFOLIOS_PER_LEDGER):
            segment = choices[index % len(choices)]
            portfolios.append(
                services.create_portfolio(
                    actor,
                    ledger,
                    name=f"{name} portfolio {index + 1}",
                    entity_id=f"HOLDER-{name[:3].upper()}-{index + 1:03d}",
                    segment_id=segment.pk if segment else None,
                )
            )
        for index in range(ACCOUNTS_PER_LEDGER):
            segment = rng.choices(choices, weights=[5, 3, 4, 2, 3])[0]
            portfolio = rng.choice([*portfolios, None, None])
            services.create_account(
                actor,
                ledger,
                name=f"{name} account {index + 1:02d}",
                type=rng.choice(ACCOUNT_TYPES),
                asset_code=rng.choice(["BRL", "BRL", "USD"]),
                alias=f"@{name.lower()}-{index + 1:03d}",
                segment_id=segment.pk if segment else None,
                portfolio_id=portfolio.pk if portfolio else None,
                metadata=_account_metadata(rng, index),
            )


def _account_metadata(rng: random.Random, index: int) -> dict:
    metadata = {"branch": f"{rng.randint(1, 40):04d}"} if index % 3 == 0 else {}
    if index % 4 == 0:
        metadata["tier"] = rng.choice(["black", "black", "gold"])
    return metadata
