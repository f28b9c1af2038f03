"""The output and input serializers of each entity, in one table: what its viewset
renders and parses, and what its OpenAPI operations document."""

from __future__ import annotations

from rest_framework import serializers

from segments.api.benefit_serializers import BenefitInputSerializer, BenefitSerializer
from segments.api.serializers import (
    AccountInputSerializer,
    AccountSerializer,
    LedgerInputSerializer,
    LedgerSerializer,
    OrganizationInputSerializer,
    OrganizationSerializer,
    PortfolioInputSerializer,
    PortfolioSerializer,
    SegmentInputSerializer,
    SegmentSerializer,
)
from segments.models import Account, Benefit, Entity, Ledger, Organization, Portfolio, Segment

SerializerClass = type[serializers.Serializer]
SERIALIZERS: dict[type[Entity], tuple[SerializerClass, SerializerClass]] = {
    Organization: (OrganizationSerializer, OrganizationInputSerializer),
    Ledger: (LedgerSerializer, LedgerInputSerializer),
    Segment: (SegmentSerializer, SegmentInputSerializer),
    Portfolio: (PortfolioSerializer, PortfolioInputSerializer),
    Account: (AccountSerializer, AccountInputSerializer),
    Benefit: (BenefitSerializer, BenefitInputSerializer),
}
