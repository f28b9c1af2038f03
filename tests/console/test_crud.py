"""The console's create, edit, list and permission checks for each entity it edits in a
dialog, written once in ``tests.testing.console_crud.EntityConsoleTestCase``; each class
here says which URLs serve the entity and what its forms send and expect."""

from __future__ import annotations

from typing import ClassVar

import pytest

from segments.models import Account, Portfolio, Segment
from tests.factories import AccountFactory, PortfolioFactory, SegmentFactory
from tests.testing.console_crud import EntityConsoleTestCase

pytestmark = pytest.mark.django_db


class TestSegments(EntityConsoleTestCase):
    model = Segment
    list_name = "ledger_segments"
    create_name = "segment_create"
    edit_name = "segment_edit"
    pk_kwarg = "segment_id"
    create_data: ClassVar = {
        "name": "Gold",
        "status": "ACTIVE",
        "description": "Gold cards",
        "metadata_key": ["tier"],
        "metadata_value": ["gold"],
    }
    created: ClassVar = {"name": "Gold", "description": "Gold cards", "metadata": {"tier": "gold"}}
    created_message = "Segment created"
    update_data: ClassVar = {"name": "Platinum", "status": "INACTIVE", "description": ""}
    updated: ClassVar = {"name": "Platinum", "status_code": "INACTIVE"}
    updated_message = "Segment updated"
    invalid_data: ClassVar = {"name": "", "status": "ACTIVE", "description": ""}
    invalid_field = "name"
    invalid_message = "This field is required."

    def make(self) -> Segment:
        return SegmentFactory(ledger=self.ledger)


class TestAccounts(EntityConsoleTestCase):
    model = Account
    list_name = "ledger_accounts"
    create_name = "account_create"
    edit_name = "account_edit"
    pk_kwarg = "account_id"
    create_data: ClassVar = {
        "name": "Checking",
        "alias": "@checking",
        "type": "deposit",
        "asset_code": "BRL",
        "status": "ACTIVE",
    }
    created: ClassVar = {"alias": "@checking", "name": "Checking", "asset_code": "BRL"}
    created_message = "Account created"
    update_data: ClassVar = {"name": "Main checking", "status": "INACTIVE", "blocked": "on"}
    updated: ClassVar = {"name": "Main checking", "status_code": "INACTIVE", "blocked": True}
    updated_message = "Account updated"
    invalid_data: ClassVar = {"alias": "@x", "type": "", "asset_code": "BRL", "status": "ACTIVE"}
    invalid_field = "type"
    invalid_message = "This field is required."

    def make(self) -> Account:
        return AccountFactory(ledger=self.ledger)

    def shown_as(self, obj: Account) -> str:
        return obj.alias


class TestPortfolios(EntityConsoleTestCase):
    model = Portfolio
    list_name = "ledger_portfolios"
    create_name = "portfolio_create"
    edit_name = "portfolio_edit"
    pk_kwarg = "portfolio_id"
    create_data: ClassVar = {"name": "Wealth", "entity_id": "H-1", "status": "ACTIVE"}
    created: ClassVar = {"name": "Wealth", "entity_id": "H-1"}
    created_message = "Portfolio created"
    update_data: ClassVar = {"name": "Private wealth", "entity_id": "H-2", "status": "ACTIVE"}
    updated: ClassVar = {"name": "Private wealth", "entity_id": "H-2"}
    updated_message = "Portfolio updated"
    invalid_data: ClassVar = {"name": "", "status": "ACTIVE"}
    invalid_field = "name"
    invalid_message = "This field is required."

    def make(self) -> Portfolio:
        return PortfolioFactory(ledger=self.ledger)
