from __future__ import annotations

import csv
import io

import pytest

from apps.accounts.models import AuditLog


def download(client, query: str = "") -> list[list[str]]:
    response = client.get(f"/accounts/audit/export.csv{query}")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="audit-log.csv"'
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def add_entry(account, action: str, label: str) -> None:
    AuditLog.objects.create(
        account=account, username="alice", action=action, target_type="account",
        target_id=str(account.pk), target_label=label, result="ok",
    )  # fmt: skip


@pytest.mark.django_db
def test_it_exports_the_filtered_entries_as_csv(superuser_client, persona_account):
    add_entry(persona_account, "account.edit", "first")
    add_entry(persona_account, "member.add", "second")
    rows = download(superuser_client, "?action=member.add")
    assert rows[0][:3] == ["when", "who", "action"]
    assert [row[2] for row in rows[1:]] == ["member.add"]
    assert rows[1][5] == "second"


@pytest.mark.django_db
def test_it_neutralises_spreadsheet_formulas_from_hostile_labels(superuser_client, persona_account):
    add_entry(persona_account, "account.edit", '=HYPERLINK("http://evil.example","x")')
    rows = download(superuser_client)
    assert rows[1][5] == '\'=HYPERLINK("http://evil.example","x")'


@pytest.mark.django_db
def test_outsiders_and_viewers_cannot_export(charlie_client, victor_client, persona_account):
    add_entry(persona_account, "account.edit", "secret")
    assert charlie_client.get("/accounts/audit/export.csv").status_code == 403
    assert victor_client.get("/accounts/audit/export.csv").status_code == 403


@pytest.mark.django_db
def test_account_admins_export_only_their_accounts(alice_client, persona_account):
    add_entry(persona_account, "account.edit", "mine")
    AuditLog.objects.create(username="root", action="account.create", result="ok",
                            target_type="account", target_label="not mine")  # fmt: skip
    labels = [row[5] for row in download(alice_client)[1:]]
    assert labels == ["mine"]
