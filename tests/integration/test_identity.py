"""Shoppers are who their signed token says, against real servers in jwt mode.

Every bad token (another key, `alg: none`, an HS256 token keyed with the RS
public key, expired, not yet valid, another audience or issuer, no sub, a sub
that is no user id) is a 401 with the RFC 6750 challenge and sells nothing;
a body naming someone else is a 403; a look-up shows the caller's own order
only; a burst of 1,000 distinct tokens sells exactly the stock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.support.load import burst, journal_orders
from tests.support.server import ServerProcess, wait_until

SECRET = "a-test-secret-that-is-32-chars-long!"
ISSUER, AUDIENCE = "https://shop.example", "flash-sale"
HOUR_S = 3600


def _token(
    sub: str | None = "alice",
    *,
    key: Any = SECRET,
    algorithm: str = "HS256",
    kid: str | None = None,
    **claims: Any,
) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + HOUR_S, **claims}
    if sub is not None:
        payload["sub"] = sub
    headers = {"kid": kid} if kid else None
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hand_signed(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    """A token PyJWT would refuse to make: `alg: none`, or HS256 keyed with a public key."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    if key is None:
        return signing_input + "."
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _claims(sub: str = "mallory") -> dict[str, Any]:
    now = int(time.time())
    return {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + HOUR_S}


def _buy(server: ServerProcess, token: str | None, body: dict[str, Any] | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(
        f"{server.url}/flash-sale/purchase", json=body or {}, headers=headers, timeout=30
    )


def _look_up(server: ServerProcess, who: str, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{server.url}/flash-sale/purchase/{who}", headers=headers, timeout=30)


def _jwt_env(**extra: str) -> dict[str, str]:
    return {
        "FLASHSALE_AUTH": "jwt",
        "FLASHSALE_JWT_ISSUER": ISSUER,
        "FLASHSALE_JWT_AUDIENCE": AUDIENCE,
        "FLASHSALE_STOCK": "100",
        **extra,
    }


@pytest.fixture(scope="module")
def hs_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hs")
    env = _jwt_env(FLASHSALE_JWT_SECRET=SECRET, FLASHSALE_RATE_LIMIT="10")
    with ServerProcess(folder / "journal.db", workers=2, env=env) as server:
        yield server


BAD_TOKENS = {
    "no token": (None, "no bearer token"),
    "not a JWT": ("not-a-jwt", "malformed"),
    "another key": (_token("victim", key="another-secret-that-is-32-chars-long"), "signature"),
    "alg none": (_hand_signed({"alg": "none", "typ": "JWT"}, _claims("victim"), None), "algorithm"),
    "expired": (_token("victim", exp=int(time.time()) - HOUR_S), "expired"),
    "not yet valid": (_token("victim", nbf=int(time.time()) + HOUR_S), "not valid yet"),
    "another audience": (_token("victim", aud="another-api"), "audience"),
    "another issuer": (_token("victim", iss="https://evil.example"), "issuer"),
    "no sub": (_token(None), "no sub claim"),
    "sub too long": (_token("v" * 65), "not a valid user id"),
}


@pytest.mark.parametrize("case", BAD_TOKENS)
def test_a_bad_token_is_refused_with_401_and_sells_nothing(hs_server, case):
    token, reason = BAD_TOKENS[case]
    before = hs_server.status()["sold"]
    for answer in (_buy(hs_server, token), _look_up(hs_server, "me", token)):
        assert answer.status_code == 401, answer.text
        body = answer.json()
        if token is None:  # no credentials at all: RFC 6750 (3.1) names no error
            assert answer.headers["WWW-Authenticate"] == 'Bearer realm="flashsale"'
            assert body["type"] == "/problems/token-required"
            assert body["title"] == "Authorization required"
        else:
            assert answer.headers["WWW-Authenticate"].startswith(
                'Bearer realm="flashsale", error="invalid_token"'
            )
            assert body["type"] == "/problems/invalid-token"
            assert body["title"] == "Invalid token"
        assert reason in body["detail"]
        assert SECRET not in answer.text
    assert hs_server.status()["sold"] == before


def test_refused_tokens_do_not_count_against_the_person_they_name(hs_server):
    for _ in range(15):  # over FLASHSALE_RATE_LIMIT=10, all in the victim's name
        assert (
            _buy(hs_server, _token("victim", key="forged-secret-that-is-32-chars-long")).status_code
            == 401
        )
    assert _buy(hs_server, _token("victim")).status_code == 201


def test_the_buyer_is_the_tokens_sub_and_sees_only_their_own_order(hs_server):
    bob, alice = _token("bob"), _token("alice")
    assert _buy(hs_server, bob).status_code == 201
    sold = hs_server.status()["sold"]
    refused = _buy(hs_server, alice, {"userId": "bob"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["title"] == "Not your id"
    assert hs_server.status()["sold"] == sold

    bought = _buy(hs_server, alice, {"userId": "alice"})
    assert bought.status_code == 201, bought.text
    assert bought.json()["userId"] == "alice"
    assert _buy(hs_server, alice).status_code == 409  # one per person, body or not

    mine = _look_up(hs_server, "me", alice)
    assert mine.status_code == 200
    assert mine.json()["orderId"] == bought.json()["orderId"]
    assert _look_up(hs_server, "alice", alice).status_code == 200
    # Bob bought, but Alice cannot learn it, nor his order id.
    theirs = _look_up(hs_server, "bob", alice)
    assert theirs.status_code == 404
    assert "orderId" not in theirs.json()
    assert _look_up(hs_server, "me", bob).json()["userId"] == "bob"


def test_status_tells_the_page_the_mode_and_the_tokens_cookie(hs_server):
    assert hs_server.status()["auth"] == {"mode": "jwt", "tokenCookie": "flashsale_token"}


def test_a_burst_of_1000_tokens_sells_exactly_the_stock(tmp_path):
    stock = 100
    env = _jwt_env(FLASHSALE_JWT_SECRET=SECRET, FLASHSALE_STOCK=str(stock))
    users = [f"shopper-{i}" for i in range(1000)]
    tokens = {user: _token(user) for user in users}
    with ServerProcess(tmp_path / "journal.db", workers=4, env=env) as server:
        answers = burst(server.url, users, tokens=tokens)
        codes = Counter(answer.status for answer in answers)
        assert codes[201] == stock, codes
        assert server.status()["sold"] == stock
    bought = {answer.user_id for answer in answers if answer.status == 201}
    assert set(journal_orders(server.db_path)) == bought


def _jwk(public_key: Any, kid: str, alg: str) -> dict[str, Any]:
    if alg.startswith("RS"):
        entry = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public_key))
    else:
        entry = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public_key))
    return {**entry, "kid": kid, "alg": alg, "use": "sig"}


def _write_jwks(path: Path, *entries: dict[str, Any]) -> None:
    path.write_text(json.dumps({"keys": list(entries)}))


def test_public_keys_by_kid_no_key_confusion_and_a_new_key_after_sighup(tmp_path):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    later_key = ec.generate_private_key(ec.SECP256R1())
    jwks = tmp_path / "jwks.json"
    _write_jwks(
        jwks,
        _jwk(rsa_key.public_key(), "rsa-1", "RS256"),
        _jwk(ec_key.public_key(), "ec-1", "ES256"),
    )
    env = _jwt_env(FLASHSALE_JWT_JWKS_FILE=str(jwks))
    with ServerProcess(tmp_path / "journal.db", workers=2, env=env) as server:
        assert (
            _buy(server, _token("rs-user", key=rsa_key, algorithm="RS256", kid="rsa-1")).status_code
            == 201
        )
        assert (
            _buy(server, _token("es-user", key=ec_key, algorithm="ES256", kid="ec-1")).status_code
            == 201
        )
        # The key-confusion attack: HS256 "signed" with the RS public key as its secret.
        public_pem = rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        confused = _hand_signed(
            {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, _claims("confused"), public_pem
        )
        assert _buy(server, confused).status_code == 401
        wrong_kid = _token("ec-user", key=ec_key, algorithm="ES256", kid="rsa-1")
        assert _buy(server, wrong_kid).status_code == 401

        later = _token("later-user", key=later_key, algorithm="ES256", kid="ec-2")
        unknown = _buy(server, later)
        assert unknown.status_code == 401
        assert "kid" in unknown.json()["detail"]
        _write_jwks(
            jwks,
            _jwk(rsa_key.public_key(), "rsa-1", "RS256"),
            _jwk(later_key.public_key(), "ec-2", "ES256"),
        )
        old_workers = set(server.worker_pids())
        server.signal(signal.SIGHUP)

        def only_new_workers() -> bool:  # the old ones, with the old keys, are gone
            workers = set(server.worker_pids())
            return len(workers) == 2 and not workers & old_workers

        wait_until(only_new_workers, 60, interval_s=0.2, message="new workers after SIGHUP")
        assert _look_up(server, "me", later).status_code == 404  # accepted, nothing bought yet
        assert _buy(server, later).status_code == 201
        assert server.status()["sold"] == 3
