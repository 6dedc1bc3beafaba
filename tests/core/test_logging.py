from __future__ import annotations

import logging
import sys

import pytest

from apps.core.logging import RedactSecretsFilter, redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("calling with key sk-oh-AbCdEf123456789", "AbCdEf123456789"),
        ("Authorization: Bearer eyJhbGciOi.J9payload.sig", "eyJhbGciOi"),
        ("headers={'X-Session-API-Key': 'sess-secret-value'}", "sess-secret-value"),
        ("url=https://host/vscode?tkn=vscode-token-123&folder=x", "vscode-token-123"),
        ("broker redis://:broker-password@redis:6379/0 is down", "broker-password"),
        ('{"session_api_key": "abc123secret"}', "abc123secret"),
    ],
)
def test_redact_removes_secrets_in_their_usual_shapes(text, secret):
    assert secret not in redact(text)
    assert "[redacted]" in redact(text)


def test_redact_leaves_ordinary_text_alone():
    text = "Synced 12 conversations for account Acme in 0.4 s"
    assert redact(text) == text


def test_the_filter_redacts_arguments_and_tracebacks():
    logger = logging.getLogger("tests.redaction")
    record = logger.makeRecord(
        "tests.redaction", logging.ERROR, __file__, 1, "key %s failed", ("sk-oh-LeakedKey42",), None
    )
    try:
        raise RuntimeError("upstream echoed Bearer sk-oh-LeakedKey42")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    RedactSecretsFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert "LeakedKey42" not in formatted
    assert "RuntimeError" in formatted
