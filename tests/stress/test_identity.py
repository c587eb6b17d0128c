"""jwt mode of the stress tool, without a server: the tokens it mints, the requests
its shoppers send, the look-ups, the bots' plans and the verdict's identity checks."""

from __future__ import annotations

import shlex
import time
from typing import ClassVar, cast

import jwt
import orjson
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from stress.__main__ import build_parser, main
from stress.client.shopper import purchase_requests
from stress.commands.options import flash_options
from stress.records import Record
from stress.scenarios.identity import TOKEN_LIFETIME_S, IdentityError, Minter, SigningKey
from stress.scenarios.lookups import lookup_one
from stress.scenarios.plans import ScenarioOptions, UserPlan, build_plans
from stress.verdicts.orders import LookupResult
from stress.verdicts.verdict import SaleFacts, judge

SECRET = "a-shared-secret-of-at-least-32-bytes!"
T0 = 1_700_000_000 * 10**9
MS = 10**6


def write_pem(path, key) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def test_an_hs256_token_decodes_with_the_secret_and_names_the_shopper():
    key = SigningKey.from_options(secret=SECRET, issuer="shop", audience="flash-sale")
    assert key is not None and key.algorithm == "HS256"
    before = int(time.time())
    token = Minter(key).mint("run1-u7")
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer="shop", audience="flash-sale")
    assert claims["sub"] == "run1-u7"
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] == claims["iat"] + TOKEN_LIFETIME_S
    assert "kid" not in jwt.get_unverified_header(token)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, SECRET + "x", algorithms=["HS256"], audience="flash-sale")


@pytest.mark.parametrize(
    ("make_key", "algorithm"),
    [
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
        (lambda: ec.generate_private_key(ec.SECP256R1()), "ES256"),
    ],
)
def test_a_private_key_file_signs_tokens_its_public_key_verifies(tmp_path, make_key, algorithm):
    private = make_key()
    write_pem(tmp_path / "key.pem", private)
    key = SigningKey.from_options(key_file=tmp_path / "key.pem", kid="k-2026")
    assert key is not None and key.algorithm == algorithm
    tokens = Minter(key).mint_all(["a", "b"])
    assert set(tokens) == {"a", "b"}
    for sub, token in tokens.items():
        assert jwt.get_unverified_header(token) == {"alg": algorithm, "kid": "k-2026", "typ": "JWT"}
        claims = jwt.decode(token, private.public_key(), algorithms=[algorithm])
        assert claims["sub"] == sub and claims["exp"] - claims["iat"] == TOKEN_LIFETIME_S
    assert "private" not in str(key.describe()) and key.describe()["kid"] == "k-2026"


def test_unusable_signing_options_fail_with_one_line(tmp_path):
    assert SigningKey.from_options() is None  # open mode
    with pytest.raises(IdentityError, match="at least 32 bytes"):
        SigningKey.from_options(secret="short")
    with pytest.raises(IdentityError, match="give one of them"):
        SigningKey.from_options(secret=SECRET, key_file=tmp_path / "k.pem")
    with pytest.raises(IdentityError, match="need a signing key"):
        SigningKey.from_options(kid="k1")
    with pytest.raises(IdentityError, match="cannot read"):
        SigningKey.from_options(key_file=tmp_path / "missing.pem")
    (tmp_path / "bad.pem").write_text("not a key")
    with pytest.raises(IdentityError, match="not an unencrypted PEM"):
        SigningKey.from_options(key_file=tmp_path / "bad.pem")
    write_pem(tmp_path / "p384.pem", ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(IdentityError, match="P-256"):
        SigningKey.from_options(key_file=tmp_path / "p384.pem")


def split(request: bytes) -> tuple[dict[str, str], dict]:
    head, body = request.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")[1:]
    return dict(line.split(": ", 1) for line in lines), orjson.loads(body)


def test_open_mode_requests_are_unchanged_and_jwt_ones_carry_the_token():
    [(request, claimed)] = purchase_requests(UserPlan("u1"), "127.0.0.1")
    headers, body = split(request)
    assert body == {"userId": "u1"} and "Authorization" not in headers and claimed == ""
    [(request, claimed)] = purchase_requests(UserPlan("u1", token="T.K.N"), "127.0.0.1")
    headers, body = split(request)
    assert headers["Authorization"] == "Bearer T.K.N" and body == {} and claimed == ""
    assert headers["Content-Length"] == "2"


def test_a_bot_alternates_its_own_id_with_other_shoppers_ids():
    plan = UserPlan("bot0", attempts=8, persistent=True, token="TOK", claims=("u3", "bot1"))
    requests = purchase_requests(plan, "h")
    assert [claimed for _, claimed in requests] == ["", "u3", "", "bot1"]
    bodies = [split(request)[1] for request, _ in requests]
    assert bodies == [{}, {"userId": "u3"}, {"userId": "bot0"}, {"userId": "bot1"}]
    assert all(split(request)[0]["Authorization"] == "Bearer TOK" for request, _ in requests)


def test_bots_claim_others_only_when_asked():
    plans = build_plans(ScenarioOptions("bots", users=10, bots=3), "r")
    assert all(plan.claims == () for plan in plans)
    plans = build_plans(ScenarioOptions("bots", users=10, bots=3, bots_claim_others=True), "r")
    bots = [plan for plan in plans if plan.persistent]
    assert [plan.claims for plan in bots] == [
        ("r-u0", "r-bot1"),
        ("r-u1", "r-bot2"),
        ("r-u2", "r-bot0"),
    ]
    assert all(plan.claims == () for plan in plans if not plan.persistent)
    assert UserPlan.from_row(bots[0].to_row()) == bots[0]
    [alone] = build_plans(ScenarioOptions("bots", users=1, bots=1, bots_claim_others=True), "r")
    assert alone.claims == ("r-nobody0",)


class FakeSession:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict | None]] = []

    def get(self, url, headers=None, timeout=None):
        self.calls.append((url, headers))
        return FakeAnswer()


class FakeAnswer:
    status_code = 200
    headers: ClassVar[dict[str, str]] = {}
    text = ""

    def json(self):
        return {"orderId": "o1", "position": 3, "saleId": 1}


def test_a_jwt_look_up_asks_for_the_callers_own_order():
    session = FakeSession()
    as_session = cast(requests.Session, session)  # it answers what lookup_one asks of one
    found = lookup_one(as_session, "http://h/flash-sale/purchase/", "u1", "TOK")
    assert session.calls == [("http://h/flash-sale/purchase/me", {"Authorization": "Bearer TOK"})]
    assert (found.user, found.http, found.order_id, found.position) == ("u1", 200, "o1", 3)
    lookup_one(as_session, "http://h/flash-sale/purchase/", "a b")
    assert session.calls[-1] == ("http://h/flash-sale/purchase/a%20b", None)


def attempt(user, n, http, status="", *, claimed="", order=None, position=None):
    return Record(
        user,
        "purchase",
        n,
        T0 + n * MS,
        MS,
        http,
        status,
        position,
        order,
        "s1" if order else None,
        claimed_as=claimed,
    )


def bot_run(as_other_http: int) -> list[Record]:
    """One bot that bought, then tried as itself (409) and as u1; u1 bought too."""
    return [
        attempt("bot0", 1, 201, "confirmed", order="o-bot", position=1),
        attempt("bot0", 2, as_other_http, claimed="u1"),
        attempt("bot0", 3, 409, "already_purchased", order="o-bot"),
        attempt("bot0", 4, as_other_http, claimed="u1"),
        attempt("u1", 1, 201, "confirmed", order="o-u1", position=2),
    ]


def jwt_facts() -> SaleFacts:
    status = {"sold": 2, "remaining": 0, "total": 2, "saleId": "s1"}
    return SaleFacts(stock=2, sale_id="s1", status_after=status, auth_mode="jwt")


LOOKUPS = {
    "bot0": LookupResult("bot0", 200, "o-bot", 1, "s1"),
    "u1": LookupResult("u1", 200, "o-u1", 2, "s1"),
}


def test_the_verdict_counts_bot_attempts_refused_as_another_id():
    verdict = judge(bot_run(403), LOOKUPS, jwt_facts())
    assert verdict.ok, [c for c in verdict.failed()]
    assert verdict.identity["refusedAsAnotherId"] == 2
    assert verdict.identity["attemptsAsAnotherId"] == 2
    assert verdict.identity["mostOrdersOfABotToken"] == 1
    checks = {check.name: check for check in verdict.checks}
    assert "2 refused as another id (403)" in checks["no token buys as another id"].detail
    assert checks["no bot token owns more than the per-user limit (1)"].ok
    assert verdict.to_dict()["identity"]["botTokens"] == 1


def test_the_verdict_fails_a_token_that_bought_as_someone_else():
    verdict = judge(bot_run(201), LOOKUPS, jwt_facts())
    failed = {check.name for check in verdict.failed()}
    assert "no token buys as another id" in failed
    assert verdict.identity["acceptedAsAnotherId"] == 2


def test_the_verdict_fails_refused_tokens_and_open_mode_has_no_identity_checks():
    records = [*bot_run(403), attempt("u2", 1, 401)]
    lookups = {**LOOKUPS, "u2": LookupResult("u2", 404)}
    verdict = judge(records, lookups, jwt_facts())
    assert "every token accepted (no 401)" in {check.name for check in verdict.failed()}
    status = {"sold": 2, "remaining": 0, "total": 2, "saleId": "s1"}
    open_verdict = judge(bot_run(403), LOOKUPS, SaleFacts(2, sale_id="s1", status_after=status))
    assert open_verdict.identity == {}
    assert not any("token" in check.name for check in open_verdict.checks)


def test_the_command_line_builds_a_signing_key_or_refuses(tmp_path, capsys):
    def parse(line: str):
        return build_parser().parse_args(shlex.split(line))

    assert flash_options(parse("flash"), "u", None, None).signing is None
    args = parse(f"flash --jwt-secret {SECRET} --jwt-issuer shop --jwt-audience flash-sale")
    signing = flash_options(args, "u", None, None).signing
    assert signing is not None
    assert (signing.algorithm, signing.issuer, signing.audience) == ("HS256", "shop", "flash-sale")
    with pytest.raises(SystemExit):
        parse(f"flash --jwt-secret {SECRET} --jwt-key-file k.pem")
    assert main(shlex.split("flash --jwt-secret short --url http://127.0.0.1:1")) == 2
    assert "at least 32 bytes" in capsys.readouterr().err
    line = f"flash --jwt-secret {SECRET} --ceiling --admin-token T --url http://127.0.0.1:1"
    assert main(shlex.split(line)) == 2
    assert "open mode only" in capsys.readouterr().err
