"""A token of any shape is either a verified sub or an InvalidToken (401): never
another exception, which the app would answer with a 500 and a traceback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import falcon
import falcon.testing
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flashsale.api.identity import InvalidToken, JwtIdentity, TokenKeys
from flashsale.api.token_form import (
    MALFORMED,
    TokenRefused,
    check_claim_types,
    check_lifetime,
    read_token,
)

SECRET = "a-unit-secret-that-is-32-chars-long!"
# PyJWT checks exp, nbf and iat on its own clock: the tokens here live an hour from
# import, since the whole suite may run for minutes before these tests do.
NOW_S = int(time.time())
HOUR_S, DAY_S = 3600, 86400
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
RS256 = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256)
ES256 = jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256)
FUZZ = settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(part: Any) -> str:
    return _b64(part if isinstance(part, bytes) else json.dumps(part).encode())


def _sign(header: Any, claims: Any, how: str) -> str:
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    message = signing_input.encode()
    if how == "hs":
        signature = hmac.new(SECRET.encode(), message, hashlib.sha256).digest()
    elif how == "rs":
        signature = RS256.sign(message, RSA_KEY)
    else:
        signature = ES256.sign(message, EC_KEY)
    return f"{signing_input}.{_b64(signature)}"


def _jwk(public_key: Any, kid: str, alg: str, kind: Any) -> jwt.PyJWK:
    return jwt.PyJWK.from_dict({**json.loads(kind.to_jwk(public_key)), "kid": kid, "alg": alg})


def _identity(keys: TokenKeys, algorithms: list[str]) -> JwtIdentity:
    return JwtIdentity(
        keys,
        algorithms=algorithms,
        issuer=None,
        audience=None,
        leeway_s=30,
        max_lifetime_s=DAY_S,
        clock_s=lambda: NOW_S,
    )


HS = _identity(TokenKeys(secret=SECRET), ["HS256"])
JWKS = _identity(
    TokenKeys(
        by_kid={
            "rs": _jwk(RSA_KEY.public_key(), "rs", "RS256", jwt.algorithms.RSAAlgorithm),
            "ec": _jwk(EC_KEY.public_key(), "ec", "ES256", jwt.algorithms.ECAlgorithm),
        }
    ),
    ["ES256", "RS256"],
)


def _subject(identity: JwtIdentity, token: str) -> str:
    return identity.subject(falcon.testing.create_req(headers={"Authorization": f"Bearer {token}"}))


def _outcome(identity: JwtIdentity, token: str) -> str:
    """The sub, or the refusal's reason: anything else raised fails the test."""
    try:
        return _subject(identity, token)
    except InvalidToken as refused:
        assert refused.status == falcon.HTTP_401
        headers = dict(refused.headers or {})
        assert headers["WWW-Authenticate"].startswith(
            'Bearer realm="flashsale", error="invalid_token"'
        )
        return f"refused: {refused.description}"


def _claims(**changes: Any) -> dict[str, Any]:
    return {"sub": "alice", "iat": NOW_S - 60, "exp": NOW_S + HOUR_S, **changes}


def test_well_formed_tokens_give_their_sub():
    assert _subject(HS, _sign({"alg": "HS256", "typ": "JWT"}, _claims(), "hs")) == "alice"
    assert _subject(JWKS, _sign({"alg": "RS256", "kid": "rs"}, _claims(), "rs")) == "alice"
    assert _subject(JWKS, _sign({"alg": "ES256", "kid": "ec"}, _claims(), "es")) == "alice"
    assert _subject(HS, _sign({"alg": "HS256"}, _claims(exp=NOW_S + HOUR_S + 0.5), "hs")) == "alice"


# JSON values of every kind, nested a little.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
HEADER_NAMES = st.sampled_from(["alg", "kid", "typ", "cty", "crit", "b64", "jku", "zip"])
CLAIM_NAMES = st.sampled_from(["exp", "nbf", "iat", "sub", "iss", "aud", "jti"])


@st.composite
def signed_tokens(draw: st.DrawFn) -> tuple[str, str]:
    """A properly signed token whose header and claims hold values of any type."""
    signers = [("hs", "HS256", None), ("rs", "RS256", "rs"), ("es", "ES256", "ec")]
    how, alg, kid = draw(st.sampled_from(signers))
    header: dict[str, Any] = {"alg": alg, **({"kid": kid} if kid else {})}
    header |= draw(st.dictionaries(HEADER_NAMES, JSON, max_size=2))
    claims = _claims() | draw(st.dictionaries(CLAIM_NAMES, JSON, max_size=3))
    return how, _sign(draw(st.sampled_from([header, [header], "x", 1])), claims, how)


@FUZZ
@given(signed_tokens())
def test_a_signed_token_of_any_shape_is_a_sub_or_a_401(case):
    how, token = case
    outcome = _outcome(HS if how == "hs" else JWKS, token)
    assert outcome.startswith("refused: ") or outcome == "alice"


@FUZZ
@given(signed_tokens(), st.integers(0, 10_000), st.text("A=.-_+/é \x00", min_size=0, max_size=3))
def test_a_mangled_token_is_a_401(case, at, inserted):
    how, token = case
    at %= len(token)
    mangled = token[:at] + inserted + token[at + 1 :]
    outcome = _outcome(HS if how == "hs" else JWKS, mangled)
    if mangled != token:
        assert outcome.startswith("refused: "), mangled


@FUZZ
@given(st.text(max_size=300) | st.text("abcAB012-_.=", max_size=300))
def test_any_text_is_a_401(text):
    for identity in (HS, JWKS):
        assert _outcome(identity, text).startswith("refused: ")


@pytest.mark.parametrize(
    "token",
    [
        "a.b",
        "a.b.c.d",
        "eyJhbGciOiJIUzI1NiJ9.e30.A",  # a signature of 4n+1 characters
        "eyJhbGciOiJIUzI1NiJ9=.e30.AA",
        "eyJhbGciOiJIUzI1NiJ9.e30=.AA",
        "eyJhbGciOiJIUzI1NiJ9.e30.AB",  # 'B' sets a bit that decodes to nothing
        "eyJhbGciOiJIUzI1NiJ9.e30.A+",
        _segment(b'{"alg": "HS256", "alg": "HS256"}') + ".e30.AA",  # a name twice
        _segment(b'{"alg": "HS256"}') + "." + _segment(b'{"exp": NaN}') + ".AA",
        _segment(b"[" * 5000) + ".e30.AA",
    ],
)
def test_non_canonical_or_odd_segments_are_malformed(token):
    with pytest.raises(TokenRefused, match=MALFORMED):
        read_token(token)


@pytest.mark.parametrize(
    ("claims", "named"),
    [
        ({"exp": "1900000000"}, "exp"),
        ({"exp": True}, "exp"),
        ({"nbf": None}, "nbf"),
        ({"iat": [1]}, "iat"),
        ({"exp": float("inf")}, "exp"),
        ({"sub": 1}, "sub"),
        ({"iss": ["a"]}, "iss"),
        ({"jti": {}}, "jti"),
        ({"aud": 1}, "aud"),
        ({"aud": ["a", 1]}, "aud"),
    ],
)
def test_claims_of_the_wrong_type_are_named(claims, named):
    with pytest.raises(TokenRefused, match=f"'s {named} claim must be"):
        check_claim_types(claims)


def test_numbers_strings_and_lists_of_strings_pass():
    check_claim_types({"exp": 1, "nbf": 1.5, "iat": 10**400, "sub": "s", "aud": ["a", "b"]})
    check_claim_types({"aud": "a", "iss": "i", "jti": "j"})


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": NOW_S + DAY_S, "iat": NOW_S},
        {"exp": NOW_S + DAY_S + 29},  # no iat: within the leeway
    ],
)
def test_a_day_is_allowed(claims):
    check_lifetime(claims, now_s=NOW_S, max_lifetime_s=DAY_S, leeway_s=30)


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": NOW_S + DAY_S + 31},
        {"exp": NOW_S + HOUR_S, "iat": NOW_S - DAY_S},
        {"exp": 10**30},
        {"exp": 10**400, "iat": NOW_S},
        {"exp": NOW_S, "iat": -(10**400)},
    ],
)
def test_longer_is_refused(claims):
    with pytest.raises(TokenRefused, match="lives too long"):
        check_lifetime(claims, now_s=NOW_S, max_lifetime_s=DAY_S, leeway_s=30)


def test_refusals_through_the_identity_name_their_reason():
    hs = {"alg": "HS256"}
    assert "lives too long" in _outcome(HS, _sign(hs, _claims(exp=10**30), "hs"))
    assert "exp claim" in _outcome(HS, _sign(hs, _claims(exp=str(NOW_S + 60)), "hs"))
    assert "kid" in _outcome(JWKS, _sign({"alg": "RS256", "kid": "nope"}, _claims(), "rs"))
    assert MALFORMED in _outcome(JWKS, _sign({"alg": "RS256", "kid": 1}, _claims(), "rs"))
    critical = {"alg": "RS256", "kid": "rs", "crit": ["b64"]}
    assert "crit" in _outcome(JWKS, _sign(critical, _claims(), "rs"))
    token = _sign(hs, _claims(), "hs")
    assert MALFORMED in _outcome(HS, token + "=")
