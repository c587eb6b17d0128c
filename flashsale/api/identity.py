"""Who the shopper is: the body's `userId` (open mode), or the `sub` of a signed JWT.

In jwt mode every purchase and look-up carries `Authorization: Bearer <JWT>`,
its form checked first (flashsale.api.token_form), then verified with PyJWT.
The accepted algorithms come from the settings, never from the token (so
`none` and an HS256 token "signed" with an RS public key are refused); `exp`
and `sub` are required, `nbf` and `iat` honoured with a leeway, `iss` and
`aud` checked when set, and no token lives longer than the settings allow.
`sub` obeys the rules of a userId. A refused token, whatever its shape, is a
401 naming the reason (never the key), and is refused before anything counts
it: it costs the person named in it nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import falcon
import jwt

from flashsale.api.bearer import CHALLENGE, INVALID_TOKEN_CHALLENGE
from flashsale.api.problems import (
    INVALID_TOKEN,
    NO_PURCHASE,
    NOT_YOUR_ID,
    TOKEN_REQUIRED,
    HTTPProblem,
)
from flashsale.api.token_form import TokenRefused, check_lifetime, read_token
from flashsale.api.validation import (
    PURCHASE_FIELDS,
    Purchase,
    check_user_id,
    parse_json_object,
    parse_purchase,
    requested_sku,
)
from flashsale.config import Settings
from flashsale.errors import InvalidInput

LOOKUP_SELF = "me"  # GET /flash-sale/purchase/me: the caller's own order

# PyJWT's refusals, from the most specific, as a shopper's page may show them.
_REASONS: tuple[tuple[type[jwt.InvalidTokenError], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired: sign in again"),
    (jwt.ImmatureSignatureError, "the token is not valid yet (nbf or iat is in the future)"),
    (jwt.InvalidAudienceError, "the token is for another audience (aud)"),
    (jwt.InvalidIssuerError, "the token is from another issuer (iss)"),
    (jwt.InvalidAlgorithmError, "the token's algorithm is not accepted"),
    (jwt.InvalidSignatureError, "the token's signature is not valid"),
    (jwt.DecodeError, "the token is malformed"),
)


class InvalidToken(HTTPProblem):
    """401 with the RFC 6750 challenge; the reason in the body and in the challenge."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            INVALID_TOKEN,
            reason,
            headers={
                "WWW-Authenticate": f'{INVALID_TOKEN_CHALLENGE}, error_description="{reason}"'
            },
        )


NO_BEARER_TOKEN = "no bearer token: sign in to the shop first"


def token_required() -> HTTPProblem:
    """401 without an error code: RFC 6750 (3.1) for a request with no credentials."""
    return HTTPProblem(TOKEN_REQUIRED, NO_BEARER_TOKEN, headers={"WWW-Authenticate": CHALLENGE})


class Identity(Protocol):
    mode: str

    def buyer(self, req: falcon.Request, body: bytes) -> Purchase:
        """The purchase this body asks for, and for whom; raises a 4xx error if none."""
        ...

    def caller(self, req: falcon.Request, user_id: str) -> str:
        """The user whose order a look-up of `user_id` may show; raises a 4xx error."""
        ...


class OpenIdentity:
    """Today's trust: the buyer is whoever the body names."""

    mode = "open"

    def buyer(self, req: falcon.Request, body: bytes) -> Purchase:
        return parse_purchase(body)

    def caller(self, req: falcon.Request, user_id: str) -> str:
        return check_user_id(user_id)


@dataclass(frozen=True)
class TokenKeys:
    """The keys that may sign a token: one secret, or public keys by `kid`."""

    secret: str | None = None
    by_kid: Mapping[str, jwt.PyJWK] | None = None

    @classmethod
    def from_jwks_file(cls, path: Path, algorithms: Sequence[str]) -> TokenKeys:
        """Every key of the file usable with `algorithms`, by its `kid`."""
        document = json.loads(path.read_text(encoding="utf-8"))
        keys = {}
        for entry in document.get("keys", []):
            key = jwt.PyJWK.from_dict(entry)
            if key.key_id is not None and (key.algorithm_name in algorithms):
                keys[key.key_id] = key
        if not keys:
            raise ValueError(f"{path} holds no key with a kid for {', '.join(algorithms)}")
        return cls(by_kid=keys)

    def for_token(self, header: Mapping[str, Any], algorithms: list[str]) -> tuple[Any, list[str]]:
        """The key that may have signed a token with this (checked) header, and the
        algorithms it may be used with: a public key with its own (a JWKS key names
        one), never another."""
        if self.secret is not None:
            return self.secret, algorithms
        assert self.by_kid is not None
        key = self.by_kid.get(header.get("kid", ""))
        if key is None:
            raise TokenRefused("the token's key (kid) is not one this server knows")
        return key.key, [key.algorithm_name]


class JwtIdentity:
    mode = "jwt"

    def __init__(
        self,
        keys: TokenKeys,
        *,
        algorithms: Sequence[str],
        issuer: str | None,
        audience: str | None,
        leeway_s: float,
        max_lifetime_s: float,
        clock_s: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._algorithms = list(algorithms)
        self._issuer = issuer
        self._audience = audience
        self._leeway_s = leeway_s
        self._max_lifetime_s = max_lifetime_s
        self._clock_s = clock_s
        self._options: jwt.types.Options = {
            "require": ["exp", "sub"],
            "verify_aud": audience is not None,
            "verify_iss": issuer is not None,
        }

    def subject(self, req: falcon.Request) -> str:
        """The verified `sub` of the request's bearer token."""
        header = req.get_header("Authorization")
        if header is None:  # no credentials at all: RFC 6750 (3.1) gives no error code
            raise token_required()
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken(NO_BEARER_TOKEN)
        try:
            claims = self._verified_claims(token.strip())
        except TokenRefused as exc:
            raise InvalidToken(exc.reason) from None
        try:
            return check_user_id(claims["sub"])
        except InvalidInput as exc:
            why = f"the token's sub is not a valid user id: {exc.description}"
            raise InvalidToken(why) from None

    def _verified_claims(self, token: str) -> dict[str, Any]:
        # PyJWT sees only a token of checked form and types (any other shape once
        # raised past the handler below: a 500 and a traceback per request).
        header, _ = read_token(token)
        key, algorithms = self._keys.for_token(header, self._algorithms)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway_s,
                options=self._options,
            )
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRefused(f"the token has no {exc.claim} claim") from None
        except jwt.PyJWTError as exc:  # InvalidTokenError, or a key unfit for the algorithm
            raise TokenRefused(_reason(exc)) from None
        check_lifetime(
            claims,
            now_s=self._clock_s(),
            max_lifetime_s=self._max_lifetime_s,
            leeway_s=self._leeway_s,
        )
        return claims

    def buyer(self, req: falcon.Request, body: bytes) -> Purchase:
        buyer = self.subject(req)  # first: a refused token is a 401, whatever the body
        fields = parse_json_object(body, allowed=PURCHASE_FIELDS)
        if "userId" in fields and _normalised(fields["userId"]) != buyer:
            raise HTTPProblem(
                NOT_YOUR_ID, "userId must be the token's sub (or be left out); nothing was bought"
            )
        return Purchase(buyer, requested_sku(fields))

    def caller(self, req: falcon.Request, user_id: str) -> str:
        caller = self.subject(req)
        if user_id != LOOKUP_SELF and _normalised(user_id) != caller:
            # As if nobody had bought: never another person's order, nor whether they have one.
            raise HTTPProblem(NO_PURCHASE, "you may look up your own order only")
        return caller


def _normalised(user_id: Any) -> str | None:
    try:
        return check_user_id(user_id)
    except InvalidInput:
        return None


def _reason(exc: jwt.PyJWTError) -> str:
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    return "the token is not valid"


def identity_for(settings: Settings) -> Identity:
    """The identity of the settings' FLASHSALE_AUTH; jwt mode reads its key file here."""
    if settings.auth == "open":
        return OpenIdentity()
    algorithms = settings.accepted_algorithms()
    if settings.jwt_secret is not None:
        keys = TokenKeys(secret=settings.jwt_secret)
    else:
        assert settings.jwt_jwks_file is not None
        keys = TokenKeys.from_jwks_file(settings.jwt_jwks_file, algorithms)
    return JwtIdentity(
        keys,
        algorithms=algorithms,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway_s=settings.jwt_leeway_s,
        max_lifetime_s=settings.jwt_max_lifetime_s,
    )
