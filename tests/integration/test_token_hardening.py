"""Tokens of every malformed shape, against real servers in jwt mode (issue 21).

Each one, signed or not, is a 401 with the RFC 6750 challenge, sells nothing
and logs no traceback: a header whose `kid` or `crit` is not what PyJWT
expects (once a 500 and a traceback per request), claims of the wrong type
(`exp` as a string was accepted), a token that lives too long (`exp` of
10^30 was accepted), and a signature that is not canonical base64url (one
with `=` appended verified). A few hundred random shapes end the same way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.server import ServerProcess

SECRET = "a-test-secret-that-is-32-chars-long!"
KID = "rsa-1"
HOUR_S, DAY_S = 3600, 86400
RS_MAX_LIFETIME_S = 2 * HOUR_S  # the JWKS server's FLASHSALE_JWT_MAX_LIFETIME_S
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RS256 = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256)
MALFORMED = "the token is malformed"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(part: Any) -> str:
    return _b64(part if isinstance(part, bytes) else json.dumps(part).encode())


def _hs(header: Any, payload: Any) -> str:
    """Signed with the HS server's secret, whatever the header and payload hold."""
    signing_input = f"{_segment(header)}.{_segment(payload)}"
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _rs(header: Any, payload: Any) -> str:
    """Signed with the JWKS server's RSA key, whatever the header and payload hold."""
    signing_input = f"{_segment(header)}.{_segment(payload)}"
    return f"{signing_input}.{_b64(RS256.sign(signing_input.encode(), RSA_KEY))}"


def _claims(sub: str = "mallory", **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": sub, "iat": now, "exp": now + HOUR_S, **changes}
    return {name: value for name, value in claims.items() if value is not None}


def _rs_header(**changes: Any) -> dict[str, Any]:
    return {"alg": "RS256", "typ": "JWT", "kid": KID, **changes}


def _buy(server: ServerProcess, token: str) -> requests.Response:
    return requests.post(
        f"{server.url}/flash-sale/purchase",
        json={},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def _assert_refused(server: ServerProcess, token: str, reason: str) -> None:
    before = server.status()["sold"]
    for answer in (
        _buy(server, token),
        requests.get(
            f"{server.url}/flash-sale/purchase/me",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ),
    ):
        assert answer.status_code == 401, answer.text
        assert answer.headers["WWW-Authenticate"].startswith(
            'Bearer realm="flashsale", error="invalid_token"'
        )
        assert answer.json()["title"] == "Invalid token"
        assert reason in answer.json()["detail"], answer.text
    assert server.status()["sold"] == before


def _assert_no_traceback(server: ServerProcess) -> None:
    log = server.log_path.read_text(errors="replace")  # all of it: server.log() is its tail
    assert "Traceback" not in log and "Internal error" not in log, log[-3000:]


@pytest.fixture(scope="module")
def jwks_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jwks")
    entry = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key()))
    jwks = folder / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**entry, "kid": KID, "alg": "RS256", "use": "sig"}]}))
    env = {
        "FLASHSALE_AUTH": "jwt",
        "FLASHSALE_JWT_JWKS_FILE": str(jwks),
        "FLASHSALE_JWT_MAX_LIFETIME_S": str(RS_MAX_LIFETIME_S),
        "FLASHSALE_STOCK": "1000",
    }
    with ServerProcess(folder / "journal.db", workers=1, env=env) as server:
        yield server


@pytest.fixture(scope="module")
def hs_server(tmp_path_factory):
    # No issuer nor audience set: their claims' types are checked all the same.
    folder = tmp_path_factory.mktemp("hs")
    env = {"FLASHSALE_AUTH": "jwt", "FLASHSALE_JWT_SECRET": SECRET, "FLASHSALE_STOCK": "1000"}
    with ServerProcess(folder / "journal.db", workers=1, env=env) as server:
        yield server


def test_a_well_formed_token_still_buys(jwks_server, hs_server):
    assert _buy(jwks_server, _rs(_rs_header(), _claims("rs-buyer"))).status_code == 201
    assert (
        _buy(hs_server, _hs({"alg": "HS256", "typ": "JWT"}, _claims("hs-buyer"))).status_code == 201
    )


# Headers that once made PyJWT raise outside what identity.py caught: a 500 each.
BAD_HEADERS = {
    "kid a number": _rs_header(kid=1),
    "kid a list": _rs_header(kid=[KID]),
    "kid null": _rs_header(kid=None),
    "kid an object": _rs_header(kid={"id": KID}),
    "crit not a list": _rs_header(crit="b64"),
    "crit empty": _rs_header(crit=[]),
    "crit unknown": _rs_header(crit=["exp"]),
    "alg a list": _rs_header(alg=["RS256"]),
    "alg missing": {"kid": KID},
    "typ a number": _rs_header(typ=1),
    "header a list": [_rs_header()],
    "header a string": "RS256",
}


@pytest.mark.parametrize("case", BAD_HEADERS)
def test_a_header_of_the_wrong_shape_is_a_401_not_a_500(jwks_server, case):
    reason = "crit" if case.startswith("crit") else MALFORMED
    _assert_refused(jwks_server, _rs(BAD_HEADERS[case], _claims()), reason)
    _assert_no_traceback(jwks_server)


def test_segments_that_are_not_json_objects_are_malformed(jwks_server):
    nested = b"[" * 2000  # deeper than Python's recursion limit, within a header's 8 KiB
    for header, payload in [
        (b"not json", _claims()),
        (nested, _claims()),
        (_rs_header(), b"not json"),
        (_rs_header(), nested),
        (_rs_header(), [_claims()]),
        (b'{"alg": "RS256", "kid": "rsa-1", "x": NaN}', _claims()),
    ]:
        _assert_refused(jwks_server, _rs(header, payload), MALFORMED)
    good = _rs(_rs_header(), _claims())
    for broken in (".", "..", good.rsplit(".", 1)[0], f"{good}.", f"x.{good}", "é.é.é"):
        _assert_refused(jwks_server, broken, MALFORMED)
    _assert_no_traceback(jwks_server)


NOW = int(time.time())
BAD_CLAIMS: dict[str, tuple[dict[str, Any], str]] = {
    "exp a string": ({"exp": str(NOW + HOUR_S)}, "exp"),
    "exp true": ({"exp": True}, "exp"),
    "exp a list": ({"exp": [NOW + HOUR_S]}, "exp"),
    "nbf a string": ({"nbf": str(NOW - 60)}, "nbf"),
    "iat a string": ({"iat": str(NOW)}, "iat"),
    "iat false": ({"iat": False}, "iat"),
    "sub a number": ({"sub": 12345}, "sub"),
    "iss a list": ({"iss": ["https://shop.example"]}, "iss"),
    "aud a number": ({"aud": 5}, "aud"),
    "aud a list with a number": ({"aud": ["flash-sale", 5]}, "aud"),
    "jti a number": ({"jti": 7}, "jti"),
}


@pytest.mark.parametrize("case", BAD_CLAIMS)
def test_a_claim_of_the_wrong_type_is_refused(hs_server, case):
    changes, claim = BAD_CLAIMS[case]
    token = _hs({"alg": "HS256", "typ": "JWT"}, _claims(**{"sub": "typed", **changes}))
    _assert_refused(hs_server, token, claim)
    _assert_no_traceback(hs_server)


def test_exp_beyond_json_numbers_is_refused(hs_server):
    # Python's json reads each of these as a float; 1e400 is a JSON number, the others not.
    for exp, reason in ((b"1e400", "exp claim"), (b"Infinity", MALFORMED), (b"NaN", MALFORMED)):
        payload = b'{"sub": "typed", "exp": ' + exp + b"}"
        _assert_refused(hs_server, _hs({"alg": "HS256"}, payload), reason)


def test_a_token_that_lives_longer_than_the_default_day_is_refused(hs_server):
    header = {"alg": "HS256", "typ": "JWT"}
    now = int(time.time())
    for claims in (
        _claims(exp=10**30),
        _claims(exp=now + DAY_S + HOUR_S, iat=None),  # no iat: exp from now
        _claims(iat=now - 30 * DAY_S, exp=now + HOUR_S),  # issued a month ago
    ):
        _assert_refused(hs_server, _hs(header, claims), "lives too long")
    # A day exactly, and a day from now within the leeway (30 s) without iat: bought.
    assert _buy(hs_server, _hs(header, _claims("day-1", exp=now + DAY_S))).status_code == 201
    late = _claims("day-2", iat=None, exp=now + DAY_S + 10)
    assert _buy(hs_server, _hs(header, late)).status_code == 201


def test_max_lifetime_is_the_setting(jwks_server):
    now = int(time.time())
    too_long = _claims(exp=now + RS_MAX_LIFETIME_S + HOUR_S)
    _assert_refused(jwks_server, _rs(_rs_header(), too_long), "lives too long")
    within = _claims("two-hours", exp=now + RS_MAX_LIFETIME_S)
    assert _buy(jwks_server, _rs(_rs_header(), within)).status_code == 201


BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _with_trailing_bits(signature: str) -> str:
    """The same bytes, spelled with the unused low bits of the last character set."""
    spare = 0b11 if len(signature) % 4 == 3 else 0b1111  # 2 or 4 bits unused
    return signature[:-1] + BASE64URL[BASE64URL.index(signature[-1]) | spare]


def test_a_signature_must_be_canonical_base64url(jwks_server, hs_server):
    hs_token = _hs({"alg": "HS256", "typ": "JWT"}, _claims("canonical"))
    rs_token = _rs(_rs_header(), _claims("canonical"))
    assert len(hs_token.rsplit(".", 1)[1]) % 4 == 3  # one '=' pads it to a valid length
    assert len(rs_token.rsplit(".", 1)[1]) % 4 == 2  # two '=' do
    for server, token, padding in ((hs_server, hs_token, "="), (jwks_server, rs_token, "==")):
        _assert_refused(server, token + padding, MALFORMED)
        head, signature = token.rsplit(".", 1)
        _assert_refused(server, f"{head}.{_with_trailing_bits(signature)}", MALFORMED)
        header, payload = head.split(".")
        _assert_refused(server, f"{header}=.{payload}.{signature}", MALFORMED)
        _assert_refused(server, f"{header}.{payload}=.{signature}", MALFORMED)
        standard = base64.b64encode(base64.urlsafe_b64decode(signature + "==")).decode()
        if standard.rstrip("=") != signature:  # '+' or '/' where base64url has '-' or '_'
            _assert_refused(server, f"{head}.{standard.rstrip('=')}", MALFORMED)
        assert _buy(server, token).status_code == 201  # and the canonical token buys


ABSENT = object()  # the field left out
# Values each header field or claim may not have.
BAD_HEADER: dict[str, list[Any]] = {
    "alg": [ABSENT, None, 1, ["RS256"], {}, "HS256", "none", "RS512"],
    "kid": [ABSENT, None, 1, True, [KID], {}, "rsa-2", ""],
    "typ": [None, 1, True, ["JWT"], {}],
    "crit": ["b64", [], ["b64"], ["exp"], [1], None],
}
BAD_CLAIMS_VALUES: dict[str, list[Any]] = {
    "exp": [ABSENT, None, True, "1", [], {}, 0, -1, 10**30, 1e300],
    "nbf": [None, True, "1", [], {}, 10**30],
    "iat": [None, True, "1", [], {}, 1.5, 10**30],
    "sub": [ABSENT, None, 1, True, [], {}, "", "x" * 65, "a\u200bb"],
    "iss": [None, 1, [], {}, True],
    "aud": [None, 1, [1], {}, True, ["ok", None]],
    "jti": [None, 1, [], {}, True],
}


def _random_token(rng: random.Random) -> str:
    """A token of a random malformed shape, signed with the right key, maybe then mangled."""
    header, claims = _rs_header(), _claims(f"fuzz-{rng.randrange(10**6)}")
    fields, bad = (header, BAD_HEADER) if rng.random() < 0.5 else (claims, BAD_CLAIMS_VALUES)
    for name in rng.sample(sorted(bad), rng.randint(1, 3)):
        value = rng.choice(bad[name])
        if value is ABSENT:
            fields.pop(name, None)
        else:
            fields[name] = value
    token = _rs(header, claims)
    mutation = rng.randrange(4)
    if mutation == 0:  # a character inserted, dropped or changed
        at = rng.randrange(len(token))
        token = token[:at] + rng.choice("A=.-_+/é ") + token[at + rng.randrange(2) :]
    elif mutation == 1:
        token = ".".join(rng.sample(token.split("."), 3))
    return token


def test_random_shapes_are_each_a_401_and_log_no_traceback(jwks_server):
    rng = random.Random(21)
    before = jwks_server.status()["sold"]
    with requests.Session() as session:
        for _ in range(300):
            token = _random_token(rng)
            answer = session.post(
                f"{jwks_server.url}/flash-sale/purchase",
                json={},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert answer.status_code == 401, (token, answer.text)
            assert answer.headers["WWW-Authenticate"].startswith(
                'Bearer realm="flashsale", error="invalid_token"'
            )
    assert jwks_server.status()["sold"] == before
    _assert_no_traceback(jwks_server)


def test_the_server_log_holds_no_token_refusal(jwks_server: ServerProcess):
    # A refused token is the shopper's problem, not the operator's: no line each.
    log_bytes = jwks_server.log_path.stat().st_size
    for _ in range(20):
        _assert_refused(jwks_server, _rs(_rs_header(kid=1), _claims()), MALFORMED)
    assert jwks_server.log_path.stat().st_size == log_bytes
