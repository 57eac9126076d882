from __future__ import annotations

import pytest

from culm.core.errors import ValidationError
from culm.core.paging import PageRequest, page_envelope, page_list


def test_defaults_and_cap() -> None:
    assert PageRequest.parse(None, None) == PageRequest(0, 25)
    assert PageRequest.parse("5", "100000").limit == 1000
    assert PageRequest.parse("0", "0").limit == 25


@pytest.mark.parametrize(("start", "limit"), [("x", "1"), ("1", "y"), ("-1", "5")])
def test_bad_values_are_validation_errors(start: str, limit: str) -> None:
    with pytest.raises(ValidationError):
        PageRequest.parse(start, limit)


def test_next_page_start_only_when_not_last() -> None:
    req = PageRequest(0, 2)
    first = page_list([1, 2, 3], req, lambda x: x)
    assert first["nextPageStart"] == 2 and first["isLastPage"] is False and first["values"] == [1, 2]
    last = page_list([1, 2, 3], PageRequest(2, 2), lambda x: x)
    assert last["isLastPage"] is True and "nextPageStart" not in last and last["values"] == [3]
    assert page_envelope([], req, True)["size"] == 0
