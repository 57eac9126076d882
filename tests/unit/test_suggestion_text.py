"""The suggestion blocks of a comment's text and how one replaces a line (byte-exact, line endings kept)."""

from __future__ import annotations

import pytest

from culm.domain.comments.suggestions import SuggestionConflict, _replace, suggestions


def test_blocks_are_found_in_order() -> None:
    text = "a\n```suggestion\none\n```\nb\n````suggestion  \r\ntwo\r\n```\nstill two\n````\n~~~suggestion\n~~~"
    assert suggestions(text) == ["one\n", "two\r\n```\nstill two\n", ""]
    assert suggestions("```python\nx\n```") == []
    assert suggestions("```suggestion\nnever closed\n") == []
    assert suggestions("``` suggestion\nx\n```") == ["x\n"]
    assert suggestions("text ```suggestion\nx\n```") == []


def test_replace_keeps_the_files_line_endings() -> None:
    assert _replace(b"a\nb\nc\n", 2, "B\n") == b"a\nB\nc\n"
    assert _replace(b"a\nb\nc\n", 2, "B1\nB2\n") == b"a\nB1\nB2\nc\n"
    assert _replace(b"a\r\nb\r\nc\r\n", 2, "B\n") == b"a\r\nB\r\nc\r\n"
    assert _replace(b"a\nb", 2, "B\n") == b"a\nB"  # no newline at the end stays so
    assert _replace(b"a\nb\nc\n", 2, "") == b"a\nc\n"  # an empty suggestion removes the line
    assert _replace(b"a\n\xff\n", 1, "\u00e9\n") == "\u00e9\n".encode() + b"\xff\n"
    with pytest.raises(SuggestionConflict):
        _replace(b"a\n", 2, "x\n")
