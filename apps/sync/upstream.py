"""Raw reads from the App Server for the sync: pages and batch lookups as plain JSON items.

The client's typed search methods reject a whole page when one item is malformed; the sync must
instead record that one item and keep the other 99. So these helpers read the raw JSON through
`AppServerClient.get_json` (retries, error mapping, secret scrubbing included), check only the
page's envelope, and leave each item to `apps.sync.mirror.parse_item`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from apps.openhands import AppServerClient, PaginationError, shapes
from apps.openhands.paging import MAX_PAGE_SIZE, fetch_in_chunks

CONVERSATION_SEARCH = "/app-conversations/search"
CONVERSATION_BATCH = ("/app-conversations", "ids", 99)
SANDBOX_SEARCH = "/sandboxes/search"
SANDBOX_BATCH = ("/sandboxes", "id", 100)

_raw_page = shapes.page(lambda item: item)


def iter_raw_pages(
    client: AppServerClient, path: str, params: Mapping[str, Any]
) -> Iterator[list[Any]]:
    """Yield the items of each page of a search, following `next_page_id` to the last page."""
    asked: set[str] = set()
    page_id: str | None = None
    while True:
        page = _raw_page(
            client.get_json(path, {**params, "limit": MAX_PAGE_SIZE, "page_id": page_id})
        )
        yield page.items
        if not page.next_page_id:
            return
        if page.next_page_id in asked:
            raise PaginationError(
                f"The server repeated next_page_id {page.next_page_id!r} on {path}; stopped "
                "instead of looping forever. The next run tries again."
            )
        asked.add(page.next_page_id)
        page_id = page.next_page_id


def fetch_raw_batch(
    client: AppServerClient, batch: tuple[str, str, int], ids: Sequence[str]
) -> dict[str, Any]:
    """Look `ids` up with a batch endpoint; return each id's JSON item (None if unknown)."""
    path, id_param, chunk_size = batch
    found = fetch_in_chunks(
        ids,
        chunk_size,
        lambda chunk: shapes.json_list(client.get_json(path, {id_param: chunk})),
        what=path.strip("/"),
    )
    return dict(zip(ids, found, strict=True))
