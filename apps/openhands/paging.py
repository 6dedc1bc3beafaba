"""Following `next_page_id` through search results, and splitting batch lookups into chunks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from apps.openhands.errors import PaginationError, UnexpectedResponseError
from apps.openhands.records import Page

logger = logging.getLogger(__name__)

# Every search endpoint accepts 1 <= limit <= 100 (the server answers 422 otherwise).
MAX_PAGE_SIZE = 100


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


def check_limit(limit: int) -> int:
    """Return `limit` if a search endpoint accepts it, else raise ValueError before any call."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit!r}")
    return limit


def iterate_pages[T: _HasId](
    fetch_page: Callable[[str | None], Page[T]], *, what: str
) -> Iterator[T]:
    """Yield every item of every page once, following `next_page_id` until it is null.

    Paging is by offset over a list that can change meanwhile, so an item can show up on two
    pages; later copies are skipped. A server that hands back a page id it already gave would
    loop forever, so that raises PaginationError after the items read so far were yielded.
    """
    seen_ids: set[str] = set()
    requested_pages: set[str] = set()
    page_id: str | None = None
    while True:
        page = fetch_page(page_id)
        for item in page.items:
            if item.id in seen_ids:
                logger.debug("Skipping %s %s, already seen on an earlier page", what, item.id)
                continue
            seen_ids.add(item.id)
            yield item
        next_page_id = page.next_page_id
        if not next_page_id:
            return
        if next_page_id in requested_pages:
            logger.warning(
                "The server repeated next_page_id %r while listing %s; stopping", next_page_id, what
            )
            raise PaginationError(
                f"The server answered with next_page_id {next_page_id!r} again while listing "
                f"{what}, which would loop forever; stopped after {len(seen_ids)} {what}. "
                "Retry later; if it persists the server's paging is broken."
            )
        requested_pages.add(next_page_id)
        page_id = next_page_id


def fetch_in_chunks[T](
    ids: Sequence[str],
    chunk_size: int,
    fetch_chunk: Callable[[list[str]], list[Any]],
    *,
    what: str,
) -> list[T | None]:
    """Look ids up `chunk_size` at a time; return results in the order asked, None if missing."""
    if isinstance(ids, str | bytes):
        raise TypeError(f"ids must be a sequence of {what} ids, not a single string")
    wanted = [str(identifier) for identifier in ids]
    results: list[T | None] = []
    for start in range(0, len(wanted), chunk_size):
        chunk = wanted[start : start + chunk_size]
        found = fetch_chunk(chunk)
        if len(found) != len(chunk):
            raise UnexpectedResponseError(
                f"Asked for {len(chunk)} {what} and got {len(found)} results; the server's "
                "batch answer must have one entry (or null) per requested id."
            )
        results.extend(found)
    return results
