from __future__ import annotations

import pytest

from flashsale.api.validation import Purchase, check_user_id, parse_purchase
from flashsale.errors import InvalidInput


@pytest.mark.parametrize("user_id", ["alice", "user123", "a" * 64, "émile", "李雷", "a b", "x@y.z"])
def test_reasonable_user_ids_pass(user_id):
    assert check_user_id(user_id) == user_id


@pytest.mark.parametrize(
    "user_id",
    ["", "a" * 65, "a\x00b", "a\nb", "\ud800", "a/b", "a\\b", ".", "..", " a", "a ", 1, None],
)
def test_unreasonable_user_ids_fail(user_id):
    with pytest.raises(InvalidInput):
        check_user_id(user_id)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[]",
        b"null",
        b'{"userId": "a", "userId": "b"}',
        b'{"userId": NaN}',
        b"{" * 3000,
        b'{"user": "a"}',
        b"\xff",
        b'{"userId": "a", "sku": "no spaces"}',
        b'{"userId": "a", "sku": 42}',
        b'{"userId": "a", "sku": ""}',
        b'{"userId": "a", "sku": "' + b"x" * 65 + b'"}',
    ],
)
def test_bodies_that_are_not_one_clean_object_fail(raw):
    with pytest.raises(InvalidInput):
        parse_purchase(raw)


def test_a_clean_body_gives_the_user_id_and_the_sku_if_any():
    assert parse_purchase(b'{"userId": "bob"}') == Purchase("bob", None)
    assert parse_purchase(b'{"userId": "bob", "sku": "shoe-42.5_W"}') == Purchase(
        "bob", "shoe-42.5_W"
    )
