"""Reading a JSON array that a server writes element by element (`[`, item, `,`, item, `]`)."""

from __future__ import annotations

import json
from enum import Enum, auto
from typing import Any

# An element bigger than this that still does not parse is garbage, not a slow element.
MAX_PENDING_CHARS = 4 * 1024 * 1024


class _Expect(Enum):
    OPEN = auto()  # the opening bracket
    FIRST = auto()  # the first element, or `]` for an empty array
    ELEMENT = auto()  # an element, after a comma
    SEPARATOR = auto()  # `,` or `]`
    NOTHING = auto()  # the array is closed


class IncompleteJSONArrayError(ValueError):
    """Signal that the text ended before the array was closed."""


class JSONArrayStream:
    """Parse a JSON array incrementally: feed text as it arrives, get elements as they complete.

    Elements are decoded with `json.JSONDecoder.raw_decode` over a buffer that holds only the
    not-yet-parsed text, so a chunk may end anywhere: inside a string, a number or a key.
    """

    def __init__(self) -> None:
        self._decoder = json.JSONDecoder()
        self._pending = ""
        self._expect = _Expect.OPEN

    def feed(self, text: str) -> list[Any]:
        """Add `text` and return the elements completed by it; raise ValueError on bad JSON."""
        self._pending += text
        elements: list[Any] = []
        while True:
            position = _skip_whitespace(self._pending)
            if position == len(self._pending):
                self._pending = ""
                return elements
            self._pending = self._pending[position:]
            if not self._step(elements):
                if len(self._pending) > MAX_PENDING_CHARS:
                    raise ValueError("an array element is not valid JSON")
                return elements

    def close(self) -> None:
        """Check that the array was closed and nothing but whitespace followed."""
        if self._expect is not _Expect.NOTHING:
            raise IncompleteJSONArrayError("the text ended before the JSON array was closed")

    def _step(self, elements: list[Any]) -> bool:
        """Consume one token from the (non-empty) buffer; return False if more text is needed."""
        head = self._pending[0]
        match self._expect:
            case _Expect.OPEN:
                if head != "[":
                    raise ValueError(f"expected '[' to open the array, got {head!r}")
                self._consume(1, _Expect.FIRST)
            case _Expect.FIRST if head == "]":
                self._consume(1, _Expect.NOTHING)
            case _Expect.ELEMENT if head == "]":
                raise ValueError("a comma before ']' (JSON allows no trailing comma)")
            case _Expect.FIRST | _Expect.ELEMENT:
                return self._decode_element(elements)
            case _Expect.SEPARATOR:
                if head not in ",]":
                    raise ValueError(f"expected ',' or ']' after an array element, got {head!r}")
                self._consume(1, _Expect.ELEMENT if head == "," else _Expect.NOTHING)
            case _Expect.NOTHING:
                raise ValueError(f"unexpected {head!r} after the end of the array")
        return True

    def _decode_element(self, elements: list[Any]) -> bool:
        try:
            element, end = self._decoder.raw_decode(self._pending)
        except json.JSONDecodeError:
            return False  # Most likely cut off mid-element; wait for more text.
        # A number at the very end of the buffer may still be growing ("12" of "123").
        if end == len(self._pending) and isinstance(element, int | float):
            return False
        elements.append(element)
        self._consume(end, _Expect.SEPARATOR)
        return True

    def _consume(self, length: int, expect_next: _Expect) -> None:
        self._pending = self._pending[length:]
        self._expect = expect_next


def _skip_whitespace(text: str) -> int:
    return len(text) - len(text.lstrip(" \t\r\n"))
