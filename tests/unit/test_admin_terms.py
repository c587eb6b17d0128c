"""The admin API's checkout terms: the bounds of holdSeconds (1 s .. a day)."""

from __future__ import annotations

import json

import pytest

from flashsale.api.admin_terms import new_sale
from flashsale.catalogue import ProductSettings
from flashsale.errors import InvalidSale


def _terms(checkout: object):
    body = json.dumps({"stock": 3, "checkout": checkout}).encode()
    return new_sale(body, ProductSettings())[0]


@pytest.mark.parametrize("hold_s", [1, 2, 86_400])
def test_a_hold_of_one_second_to_a_day_is_taken(hold_s):
    checkout = _terms({"holdSeconds": hold_s}).checkout
    assert checkout is not None
    assert (checkout.hold_s, checkout.extend_s) == (hold_s, 0)


@pytest.mark.parametrize("hold_s", [0, -1, 86_401])
def test_a_hold_outside_one_second_to_a_day_is_refused(hold_s):
    with pytest.raises(InvalidSale, match=r"holdSeconds must be within \[1, 86400\]"):
        _terms({"holdSeconds": hold_s})
