"""Encryption at rest for stored Cloud API keys.

``settings.DASHBOARD_ENCRYPTION_KEYS`` is a list of Fernet keys, newest first. The first key
encrypts; every key decrypts, so a new key can be put in front of the list at any time. After
``manage.py rotate_encryption_keys`` has re-encrypted every stored key with the newest one, the
older keys can be removed from the environment.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.views.decorators.debug import sensitive_variables


class KeyDecryptionError(Exception):
    """Signal a stored token that none of the configured encryption keys can open."""

    def __init__(self) -> None:
        super().__init__(
            "A stored API key cannot be decrypted with DASHBOARD_ENCRYPTION_KEYS. Was a key "
            "removed before `manage.py rotate_encryption_keys` re-encrypted everything? Put the "
            "old key back at the end of the list, or enter the API key again."
        )


def _keys() -> list[Fernet]:
    # Read the setting on every call (it is cheap) so that a changed setting, e.g. in tests or
    # after a rotation, is honoured without restarting anything.
    return [Fernet(key) for key in settings.DASHBOARD_ENCRYPTION_KEYS]


@sensitive_variables("plaintext")
def encrypt(plaintext: str) -> str:
    """Return a Fernet token for ``plaintext``, encrypted with the newest key."""
    return _keys()[0].encrypt(plaintext.encode()).decode()


@sensitive_variables()
def decrypt(token: str) -> str:
    """Return the plaintext of ``token``, trying every configured key."""
    try:
        return MultiFernet(_keys()).decrypt(token.encode()).decode()
    except InvalidToken:
        raise KeyDecryptionError from None


def is_current(token: str) -> bool:
    """Tell whether ``token`` is already encrypted with the newest key."""
    try:
        _keys()[0].decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def reencrypt(token: str) -> str:
    """Return ``token`` re-encrypted with the newest key (the plaintext never leaves here)."""
    try:
        return MultiFernet(_keys()).rotate(token.encode()).decode()
    except InvalidToken:
        raise KeyDecryptionError from None
