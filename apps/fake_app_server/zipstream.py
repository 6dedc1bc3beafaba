"""Write the trajectory zip as a stream of chunks, in constant memory.

Layout, as the App Server's ``/download``: a flat DEFLATE archive with ``meta.json`` first, then
one pretty-printed JSON file per event named ``event_<6-digit index>_<event id>.json`` in
timestamp order. ``zipfile`` writes to an unseekable sink with data descriptors, so each entry
is compressed and handed out as soon as it is written; only the central directory (a few dozen
bytes per entry) is kept until the end.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from apps.fake_app_server.events import EventTimeline

CHUNK_SIZE = 64 * 1024
# Level 1 keeps CPU low when streaming hundreds of megabytes; it is still DEFLATE.
COMPRESS_LEVEL = 1


class _ChunkSink(io.RawIOBase):
    """An unseekable, append-only buffer that the generator empties as it goes."""

    def __init__(self) -> None:
        super().__init__()
        self._buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buffer += data
        return len(data)

    def pending(self) -> int:
        return len(self._buffer)

    def take(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


def event_file_name(index: int, event_id: str) -> str:
    """Return the archive name of the ``index``-th event."""
    return f"event_{index:06d}_{event_id}.json"


def trajectory_zip(
    meta: dict[str, Any], timeline: EventTimeline, modified: datetime
) -> Iterator[bytes]:
    """Yield the zip of ``meta`` and every event of ``timeline``, chunk by chunk.

    ``modified`` stamps every entry, so the same data always gives the same bytes.
    """
    stamp = modified.astimezone(UTC).timetuple()[:6]
    sink = _ChunkSink()
    with zipfile.ZipFile(
        sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
    ) as archive:
        _write(archive, "meta.json", meta, stamp)
        for index, ref in enumerate(timeline.refs()):
            event = timeline.build(ref)
            _write(archive, event_file_name(index, event["id"]), event, stamp)
            if sink.pending() >= CHUNK_SIZE:
                yield sink.take()
    if sink.pending():
        yield sink.take()


def _write(
    archive: zipfile.ZipFile, name: str, data: dict[str, Any], stamp: tuple[int, ...]
) -> None:
    info = zipfile.ZipInfo(name, date_time=stamp)  # type: ignore[arg-type]
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(
        info, json.dumps(data, indent=2, ensure_ascii=False), compresslevel=COMPRESS_LEVEL
    )
