"""Make the identifiers the App Server uses, deterministically from a seed.

Conversation and start-task ids are UUIDs written as 32 lowercase hex characters; event ids are
UUIDs with dashes; sandbox ids are base62 strings of 16 random bytes (about 22 characters).
Ids derived with :func:`stable_uuid` depend only on their parts, so an event can be regenerated
on demand with the same id instead of being stored.
"""

from __future__ import annotations

import hashlib
import random
import uuid

BASE62_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def random_uuid(rng: random.Random) -> uuid.UUID:
    """Return a version-4 UUID drawn from ``rng``."""
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def hex_id(rng: random.Random) -> str:
    """Return a conversation-style id: a UUID as 32 lowercase hex characters."""
    return random_uuid(rng).hex


def base62_id(rng: random.Random, length: int = 22) -> str:
    """Return a sandbox-style id: ``length`` base62 characters drawn from ``rng``."""
    return "".join(rng.choice(BASE62_ALPHABET) for _ in range(length))


def stable_uuid(*parts: object) -> uuid.UUID:
    """Return a version-4 UUID that depends only on ``parts`` (same parts, same UUID)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=16).digest()
    return uuid.UUID(bytes=digest, version=4)


def stable_token(*parts: object, length: int = 32) -> str:
    """Return a base62 token that depends only on ``parts`` (session keys, tool-call ids)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=32).digest()
    number = int.from_bytes(digest)
    characters = []
    for _ in range(length):
        number, remainder = divmod(number, 62)
        characters.append(BASE62_ALPHABET[remainder])
    return "".join(characters)


def normalize_uuid(text: str) -> str | None:
    """Return ``text`` as 32-hex if it is a UUID with or without dashes, else ``None``."""
    try:
        return uuid.UUID(text.strip()).hex
    except ValueError:
        return None
