"""CSV for downloads: streamed line by line, and safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

# A cell starting with one of these is run as a formula by spreadsheet programs; titles and
# file names come from upstream and may be hostile, so such cells get a leading apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _neutralise(value: object) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def csv_lines(*row_groups: Iterable[Iterable[object]]) -> Iterator[str]:
    """Yield one encoded CSV line per row, for a StreamingHttpResponse."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for rows in row_groups:
        for row in rows:
            writer.writerow([_neutralise(value) for value in row])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
