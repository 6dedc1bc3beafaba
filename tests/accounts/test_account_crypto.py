from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts import crypto
from apps.accounts.models import AuditLog, CloudAccount

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
PLAINTEXT = "sk-oh-CryptoTest4Rb8NcY3hGd6FsQ1eU"


def _fernet(key: str) -> Fernet:
    return Fernet(key.encode())


def test_it_round_trips_a_key(settings):
    settings.DASHBOARD_ENCRYPTION_KEYS = [NEW_KEY]
    token = crypto.encrypt(PLAINTEXT)
    assert PLAINTEXT not in token
    assert crypto.decrypt(token) == PLAINTEXT


def test_it_encrypts_with_the_first_key_and_decrypts_with_any(settings):
    settings.DASHBOARD_ENCRYPTION_KEYS = [OLD_KEY]
    old_token = crypto.encrypt(PLAINTEXT)

    settings.DASHBOARD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    new_token = crypto.encrypt(PLAINTEXT)

    # Old tokens stay readable after a new key is put in front...
    assert crypto.decrypt(old_token) == PLAINTEXT
    # ...and new writes use the new key only.
    assert _fernet(NEW_KEY).decrypt(new_token.encode()).decode() == PLAINTEXT
    assert crypto.is_current(new_token)
    assert not crypto.is_current(old_token)


def test_it_says_what_to_do_when_no_key_decrypts(settings):
    settings.DASHBOARD_ENCRYPTION_KEYS = [OLD_KEY]
    token = crypto.encrypt(PLAINTEXT)
    settings.DASHBOARD_ENCRYPTION_KEYS = [NEW_KEY]
    with pytest.raises(crypto.KeyDecryptionError, match="rotate_encryption_keys"):
        crypto.decrypt(token)


def test_reencrypt_moves_a_token_to_the_newest_key(settings):
    settings.DASHBOARD_ENCRYPTION_KEYS = [OLD_KEY]
    token = crypto.encrypt(PLAINTEXT)
    settings.DASHBOARD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    rotated = crypto.reencrypt(token)
    assert _fernet(NEW_KEY).decrypt(rotated.encode()).decode() == PLAINTEXT


def _account_with_key(name: str, key: str) -> CloudAccount:
    account = CloudAccount(name=name, base_url="https://app.example.test")
    account.set_api_key(key)
    account.save()
    return account


@pytest.mark.django_db
def test_the_command_reencrypts_every_stored_key_idempotently(settings):
    settings.DASHBOARD_ENCRYPTION_KEYS = [OLD_KEY]
    first = _account_with_key("First", PLAINTEXT)
    second = _account_with_key("Second", PLAINTEXT[::-1])
    settings.DASHBOARD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    call_command("rotate_encryption_keys", stdout=(output := StringIO()))
    assert "2 key(s) re-encrypted" in output.getvalue()

    # After the rotation the old key can go: every key decrypts with the new one alone.
    settings.DASHBOARD_ENCRYPTION_KEYS = [NEW_KEY]
    first.refresh_from_db()
    second.refresh_from_db()
    assert crypto.decrypt(first.encrypted_api_key) == PLAINTEXT
    assert crypto.decrypt(second.encrypted_api_key) == PLAINTEXT[::-1]

    tokens_before = {first.encrypted_api_key, second.encrypted_api_key}
    call_command("rotate_encryption_keys", stdout=(output := StringIO()))
    assert "0 key(s) re-encrypted, 2 already used the newest key" in output.getvalue()
    tokens_after = set(CloudAccount.objects.values_list("encrypted_api_key", flat=True))
    assert tokens_after == tokens_before

    entries = AuditLog.objects.filter(action="keys.rotate").order_by("id")
    assert [entry.result for entry in entries] == ["ok", "ok"]
    assert entries[0].username == "manage.py rotate_encryption_keys"


@pytest.mark.django_db
def test_the_command_fails_loudly_on_a_key_it_cannot_read(settings):
    settings.DASHBOARD_ENCRYPTION_KEYS = [OLD_KEY]
    _account_with_key("Lost", PLAINTEXT)
    settings.DASHBOARD_ENCRYPTION_KEYS = [NEW_KEY]
    readable = _account_with_key("Fine", PLAINTEXT)
    token_before = readable.encrypted_api_key

    with pytest.raises(CommandError, match="Lost"):
        call_command("rotate_encryption_keys", stdout=StringIO())

    readable.refresh_from_db()
    assert readable.encrypted_api_key == token_before
    assert AuditLog.objects.get(action="keys.rotate").result == "failed"
