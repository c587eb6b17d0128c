"""One person, one id, against a real server: the id is NFKC-normalised before the
rate limit, the allocator, the journal, the look-up and the Location header see it;
invisible and mixed-script ids are refused and buy nothing."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests

from tests.support.load import journal_orders
from tests.support.old_journal import write_old_journal
from tests.support.server import running_server

PURCHASE = "/flash-sale/purchase"
FULLWIDTH_ALICE = "\uff41\uff4c\uff49\uff43\uff45"
CAFE_COMPOSED = "caf\u00e9"
CAFE_DECOMPOSED = "cafe\u0301"
REFUSED = {
    "Cyrillic a, Latin lice": "\u0430lice",
    "Hangul filler": "\u3164",
    "halfwidth Hangul filler": "\uffa0",
    "Braille blank": "\u2800",
    "lone combining acute": "\u0301",
    "zero-width space inside": "ali\u200bce",
    "soft hyphen inside": "ali\u00adce",
    "word joiner after": "alice\u2060",
}
RATE_LIMIT = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(
        tmp_path_factory.mktemp("user-ids") / "journal.db",
        workers=2,
        env={
            "FLASHSALE_STOCK": "10",
            "FLASHSALE_PER_USER_LIMIT": "1",
            "FLASHSALE_RATE_LIMIT": str(RATE_LIMIT),
        },
    ) as server:
        yield server


def buy(server, user_id: str) -> requests.Response:
    return requests.post(f"{server.url}{PURCHASE}", json={"userId": user_id}, timeout=10)


def look_up(server, user_id: str) -> requests.Response:
    return requests.get(f"{server.url}{PURCHASE}/{quote(user_id, safe='')}", timeout=10)


def test_fullwidth_alice_is_alice(server):
    first = buy(server, "alice")
    assert first.status_code == 201, first.text
    assert first.headers["Location"] == f"{PURCHASE}/alice"
    second = buy(server, FULLWIDTH_ALICE)
    assert second.status_code == 409, second.text
    assert second.json()["outcome"] == "already_purchased"
    assert second.json()["orderId"] == first.json()["orderId"]
    assert second.json()["userId"] == "alice"


def test_both_spellings_of_cafe_are_one_id(server):
    first = buy(server, CAFE_COMPOSED)
    assert first.status_code == 201, first.text
    assert first.json()["userId"] == CAFE_COMPOSED
    assert first.headers["Location"] == f"{PURCHASE}/caf%C3%A9"
    second = buy(server, CAFE_DECOMPOSED)
    assert second.status_code == 409, second.text
    assert second.json()["orderId"] == first.json()["orderId"]
    assert second.json()["userId"] == CAFE_COMPOSED
    for spelling in (CAFE_COMPOSED, CAFE_DECOMPOSED):
        found = look_up(server, spelling)
        assert found.status_code == 200, found.text
        assert found.json()["orderId"] == first.json()["orderId"]


def test_the_look_up_of_fullwidth_alice_finds_alices_order(server):
    alices = look_up(server, "alice")
    assert alices.status_code == 200, alices.text
    found = requests.get(
        f"{server.url}{PURCHASE}/%EF%BD%81%EF%BD%8C%EF%BD%89%EF%BD%83%EF%BD%85", timeout=10
    )
    assert found.status_code == 200, found.text
    assert found.json() == alices.json()
    assert found.json()["userId"] == "alice"


@pytest.mark.parametrize("user_id", list(REFUSED.values()), ids=list(REFUSED))
def test_look_alike_and_invisible_ids_are_refused_and_buy_nothing(server, user_id):
    sold = server.status()["sold"]
    answer = buy(server, user_id)
    assert answer.status_code == 400, answer.text
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["title"] == "Invalid userId"
    assert answer.json()["detail"]
    assert server.status()["sold"] == sold
    # The look-up applies the same rule: no order can be read under such an id.
    looked_up = look_up(server, user_id)
    assert looked_up.status_code == 400, looked_up.text
    assert looked_up.json()["title"] == "Invalid userId"


def test_the_rate_limit_counts_the_normalised_id(server):
    spellings = ["bob", "\uff42\uff4f\uff42", "\uff42ob", "b\uff4f\uff42"]
    answers = [buy(server, spelling).status_code for spelling in spellings]
    assert answers == [201, 409, 409, 409]
    assert len(spellings) == RATE_LIMIT
    limited = buy(server, "bo\uff42")
    assert limited.status_code == 429, limited.text


def test_the_journal_holds_one_order_per_person(server):
    # Runs last (file order): alice, cafe and bob bought, once each, under their NFKC ids.
    assert set(journal_orders(server.db_path)) == {"alice", CAFE_COMPOSED, "bob"}
    status = server.status()
    assert (status["sold"], status["remaining"]) == (3, 7)
    assert "Traceback" not in server.log()


def test_an_order_journaled_under_an_old_spelling_still_counts_for_its_person(tmp_path):
    # A journal an earlier version wrote, before ids were normalised.
    db_path = tmp_path / "journal.db"
    (order_id,) = write_old_journal(db_path, stock=10, users=[FULLWIDTH_ALICE])
    with running_server(db_path, workers=1) as server:
        again = buy(server, "alice")
        assert again.status_code == 409, again.text
        assert again.json()["orderId"] == order_id
        assert look_up(server, "alice").status_code == 200
        assert server.status()["sold"] == 1
    assert set(journal_orders(db_path)) == {"alice"}
