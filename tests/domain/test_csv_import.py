"""``manage.py import_segment_members``: every row checked first, every bad row reported
with its line number, nothing written unless all rows are valid; and a member export
reads back through it."""

import csv
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from segments import services
from segments.models import Account, HistoryAction, Portfolio, SegmentHistory, Status
from tests.factories import (
    AccountFactory,
    LedgerFactory,
    PortfolioFactory,
    SegmentFactory,
)

pytestmark = pytest.mark.django_db


def write(tmp_path: Path, lines: list[str], name: str = "members.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(segment, path: Path, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_segment_members", str(segment.pk), str(path), *args, stdout=out, stderr=err
    )
    return out.getvalue(), err.getvalue()


def refused(segment, path: Path, *args: str) -> tuple[str, str]:
    out = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command(
            "import_segment_members",
            str(segment.pk),
            str(path),
            *args,
            stdout=out,
            stderr=io.StringIO(),
        )
    return out.getvalue(), str(error.value)


def bulk_accounts(ledger, count: int, **fields) -> list[Account]:
    accounts = [
        Account(
            ledger=ledger,
            organization_id=ledger.organization_id,
            type="deposit",
            asset_code="BRL",
            alias=f"@bulk-{index:06d}",
            **fields,
        )
        for index in range(count)
    ]
    return Account.objects.bulk_create(accounts, batch_size=1000)


@pytest.fixture
def segment(ledger):
    return SegmentFactory(ledger=ledger, name="Black")


# --------------------------------------------------------------------------- valid files


def test_imports_ids_and_aliases_from_a_headed_column(tmp_path, staff_actor, segment, ledger):
    by_id, by_alias = AccountFactory(ledger=ledger), AccountFactory(ledger=ledger, alias="@bob")
    path = write(tmp_path, ["account,note", f"{by_id.pk},first", "@bob,second"])
    out, _ = run(segment, path, "--actor", staff_actor.username)
    assert "Assigned 2 account(s) and 0 portfolio(s)" in out
    assert set(Account.objects.filter(segment=segment)) == {by_id, by_alias}
    entry = SegmentHistory.objects.get(segment=segment)
    assert (entry.action, entry.actor, entry.after["accounts"]) == (
        HistoryAction.MEMBERS_ASSIGNED,
        staff_actor,
        2,
    )


def test_imports_a_file_without_header(tmp_path, segment, ledger):
    accounts = AccountFactory.create_batch(3, ledger=ledger)
    path = write(tmp_path, [a.alias for a in accounts])
    run(segment, path)
    assert Account.objects.filter(segment=segment).count() == 3


def test_accepts_a_byte_order_mark_and_blank_lines(tmp_path, segment, ledger):
    account = AccountFactory(ledger=ledger)
    path = tmp_path / "excel.csv"
    path.write_text(f"\ufeffaccount\r\n\r\n{account.pk}\r\n", encoding="utf-8")
    run(segment, path)
    account.refresh_from_db()
    assert account.segment == segment


def test_accounts_already_in_the_segment_are_fine(tmp_path, segment, ledger):
    account = AccountFactory(ledger=ledger, segment=segment)
    run(segment, write(tmp_path, ["account", str(account.pk)]))
    assert Account.objects.filter(segment=segment).count() == 1


def test_dry_run_checks_and_writes_nothing(tmp_path, segment, ledger):
    account = AccountFactory(ledger=ledger)
    out, _ = run(segment, write(tmp_path, [str(account.pk)]), "--dry-run")
    assert "Dry run" in out and "would assign 1 account(s)" in out
    account.refresh_from_db()
    assert account.segment is None
    assert not SegmentHistory.objects.exists()


def test_more_than_ten_thousand_members_go_in_batches_of_one_transaction(tmp_path, segment, ledger):
    accounts = bulk_accounts(ledger, 10_001)
    path = write(tmp_path, ["account", *(str(a.pk) for a in accounts)])
    out, _ = run(segment, path)
    assert Account.objects.filter(segment=segment).count() == 10_001
    batches = SegmentHistory.objects.filter(segment=segment).values_list("after", flat=True)
    assert sorted(b["accounts"] for b in batches) == [1, 10_000]
    assert "Assigned 10001 account(s)" in out


def test_progress_bar_is_drawn_on_stderr(tmp_path, segment, ledger):
    account = AccountFactory(ledger=ledger)
    _, err = run(segment, write(tmp_path, [str(account.pk)]))
    assert "checking" in err and "assigning" in err


# --------------------------------------------------------------------------- bad files


def test_one_bad_row_among_a_thousand_writes_nothing_and_names_its_line(tmp_path, segment, ledger):
    accounts = bulk_accounts(ledger, 1000)
    lines = ["account", *(a.alias for a in accounts)]
    lines[501] = "@nobody-has-this"
    out, error = refused(segment, write(tmp_path, lines))
    assert out.strip().splitlines() == [
        "line 502: no account with alias '@nobody-has-this' in the segment's ledger “Cards”"
    ]
    assert "1 bad row(s) in 1000; nothing was written." in error
    assert not Account.objects.filter(segment__isnull=False).exists()
    assert not SegmentHistory.objects.exists()


def test_every_kind_of_bad_row_is_reported_with_its_line(
    tmp_path, staff_actor, segment, organization, ledger, other_ledger
):
    good = AccountFactory(ledger=ledger, alias="@good")
    deleted = AccountFactory(ledger=ledger, alias="@gone")
    services.delete_account(staff_actor, deleted)
    elsewhere = AccountFactory(ledger=LedgerFactory(organization=organization))
    foreign = AccountFactory(ledger=other_ledger)
    lines = [
        "kind,id",
        f"account,{good.pk}",  # 2 fine
        "account,00000000-0000-7000-8000-000000000000",  # 3 unknown id
        f"account,{deleted.pk}",  # 4 deleted (by id)
        "account,@gone",  # 5 deleted (by alias)
        f"account,{elsewhere.pk}",  # 6 another ledger
        f"account,{foreign.pk}",  # 7 another organization
        "account,@good",  # 8 repeats line 2
        "account,not an alias!",  # 9 malformed
        "account,",  # 10 empty
        "robot,@good",  # 11 unknown kind
        "portfolio,@good",  # 12 a portfolio needs an id
    ]
    out, error = refused(segment, write(tmp_path, lines))
    reported = out.strip().splitlines()
    assert [line.split(":")[0] for line in reported] == [f"line {n}" for n in range(3, 13)]
    text = "\n".join(reported)
    assert "line 3: no account has the id" in text
    assert f"line 4: account {deleted.pk} is deleted" in text
    assert "line 5: the account with alias '@gone' is deleted" in text
    assert "line 6: account" in text and "outside the segment's ledger" in text
    assert "line 7: account" in text and "outside the segment's ledger" in text
    assert "line 8: account @good repeats line 2" in text
    assert "line 9: 'not an alias!' is neither an id nor an alias" in text
    assert "line 10: no account id or alias" in text
    assert "line 11: kind 'robot'" in text
    assert "line 12: '@good' is not a portfolio id" in text
    assert "10 bad row(s) in 11" in error
    good.refresh_from_db()
    assert good.segment is None


def test_ambiguous_alias_in_an_organization_segment_asks_for_the_id(tmp_path, organization, ledger):
    segment = SegmentFactory(ledger=None, organization=organization, name="Private")
    AccountFactory(ledger=ledger, alias="@same")
    AccountFactory(ledger=LedgerFactory(organization=organization), alias="@same")
    out, _ = refused(segment, write(tmp_path, ["@same"]))
    assert "line 1: alias '@same' names 2 accounts in different ledgers" in out


def test_inactive_segment_is_refused_before_reading(tmp_path, ledger):
    inactive = SegmentFactory(ledger=ledger, status_code=Status.INACTIVE)
    _, error = refused(inactive, write(tmp_path, ["@x"]))
    assert "only ACTIVE segments accept members" in error


def test_missing_file_and_bad_segment_id(tmp_path, segment):
    _, error = refused(segment, tmp_path / "nope.csv")
    assert "No such file" in error
    with pytest.raises(CommandError, match="not a segment id"):
        call_command("import_segment_members", "nope", str(write(tmp_path, ["x"])))


def test_dry_run_reports_bad_rows_and_fails(tmp_path, segment):
    out, _ = refused(segment, write(tmp_path, ["@nobody"]), "--dry-run")
    assert out.startswith("line 1:")


# --------------------------------------------------------------------------- round trip


def test_member_export_round_trips_through_the_import(tmp_path, client, users, ledger):
    source = SegmentFactory(ledger=ledger, name="Black")
    target = SegmentFactory(ledger=ledger, name="Platinum")
    accounts = AccountFactory.create_batch(5, ledger=ledger, segment=source)
    portfolios = PortfolioFactory.create_batch(2, ledger=ledger, segment=source)
    AccountFactory(ledger=ledger)
    client.force_login(users["viewer"])
    url = reverse(
        "exports:segment_members_csv", args=[ledger.organization_id, ledger.pk, source.pk]
    )
    exported = b"".join(client.get(url).streaming_content).decode()
    path = tmp_path / "export.csv"
    path.write_text(exported, encoding="utf-8", newline="")
    exported_members = {(r["kind"], r["id"]) for r in csv.DictReader(io.StringIO(exported))}

    out, _ = run(target, path)

    assert "Assigned 5 account(s) and 2 portfolio(s)" in out
    imported = {
        ("account", str(pk))
        for pk in Account.objects.filter(segment=target).values_list("pk", flat=True)
    }
    imported |= {
        ("portfolio", str(pk))
        for pk in Portfolio.objects.filter(segment=target).values_list("pk", flat=True)
    }
    assert imported == exported_members
    assert imported == {("account", str(a.pk)) for a in accounts} | {
        ("portfolio", str(p.pk)) for p in portfolios
    }
    removed = SegmentHistory.objects.filter(segment=source, action=HistoryAction.MEMBERS_REMOVED)
    assert sum(e.before["accounts"] for e in removed) == 5
    assert sum(e.before["portfolios"] for e in removed) == 2


def test_exported_aliases_read_back_to_their_accounts(tmp_path, client, users, ledger):
    """The export writes ``'@external/x`` (defused against spreadsheet formulas); a file
    of those aliases, headed or not, imports the accounts they name."""
    source = SegmentFactory(ledger=ledger, name="Black")
    accounts = [
        AccountFactory(ledger=ledger, segment=source, alias=alias)
        for alias in ("@external/BRL", "-minus", "@alice", "plain")
    ]
    client.force_login(users["viewer"])
    url = reverse(
        "exports:segment_members_csv", args=[ledger.organization_id, ledger.pk, source.pk]
    )
    exported = b"".join(client.get(url, {"kind": "accounts"}).streaming_content).decode()
    aliases = [row["alias"] for row in csv.DictReader(io.StringIO(exported))]
    assert aliases == ["'@external/BRL", "'-minus", "'@alice", "plain"]
    expected = {account.pk for account in accounts}

    headed = SegmentFactory(ledger=ledger, name="Headed")
    out, _ = run(headed, write(tmp_path, ["alias", *aliases], "headed.csv"))
    assert "Assigned 4 account(s)" in out
    assert set(Account.objects.filter(segment=headed).values_list("pk", flat=True)) == expected

    bare = SegmentFactory(ledger=ledger, name="Bare")
    out, _ = run(bare, write(tmp_path, aliases, "bare.csv"))
    assert "Assigned 4 account(s)" in out
    assert set(Account.objects.filter(segment=bare).values_list("pk", flat=True)) == expected


def test_an_apostrophe_before_anything_else_is_not_taken_off(tmp_path, segment, ledger):
    AccountFactory(ledger=ledger, alias="alice")
    out, _ = refused(segment, write(tmp_path, ["alias", "'alice"]))
    assert "line 2: ''alice' is neither an id nor an alias" in out


@pytest.fixture
def staff_actor(db):
    from tests.factories import UserFactory

    return UserFactory(username="importer")


def test_a_member_export_in_portuguese_has_portuguese_headers_and_imports_back(
    tmp_path, client, users, ledger
):
    source = SegmentFactory(ledger=ledger, name="Black")
    target = SegmentFactory(ledger=ledger, name="Platinum")
    accounts = AccountFactory.create_batch(3, ledger=ledger, segment=source)
    portfolio = PortfolioFactory(ledger=ledger, segment=source)
    client.force_login(users["viewer"])
    url = reverse(
        "exports:segment_members_csv", args=[ledger.organization_id, ledger.pk, source.pk]
    )
    response = client.get(url, headers={"accept-language": "pt-br"})
    exported = b"".join(response.streaming_content).decode()
    header = next(csv.reader(io.StringIO(exported)))
    assert header[:4] == ["tipo_de_membro", "id", "apelido", "nome"]
    assert "kind" not in header
    path = tmp_path / "exportacao.csv"
    path.write_text(exported, encoding="utf-8", newline="")

    out, _ = run(target, path)

    assert "Assigned 3 account(s) and 1 portfolio(s)" in out
    assert set(Account.objects.filter(segment=target)) == set(accounts)
    assert list(Portfolio.objects.filter(segment=target)) == [portfolio]
