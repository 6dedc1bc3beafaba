"""Log redaction: secrets must never reach a log line, whatever code path formats them."""

from __future__ import annotations

import logging
import re

# Cloud API keys, bearer tokens and session-key headers/parameters, in any message.
_PATTERNS = [
    (re.compile(r"(://)[^/@\s:]*:[^/@\s]*@"), r"\1[redacted]@"),  # user:password@ in URLs
    (re.compile(r"sk-oh-[A-Za-z0-9_\-]+"), "sk-oh-[redacted]"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=\-]+"), r"\1[redacted]"),
    (
        re.compile(
            r"(?i)((?:x-session-api-key|session_api_key|api_key|tkn)[\"']?\s*[:=]\s*[\"']?)"
            r"[^\s\"'&,}]+"
        ),
        r"\1[redacted]",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrite the formatted message (and exception text) with secrets replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(formatted)
            record.exc_info = None
            record.msg = f"{record.msg}\n{record.exc_text}"
            record.exc_text = None
        return True
