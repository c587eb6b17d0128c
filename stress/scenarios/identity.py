"""Signed shoppers for a server in jwt mode (FLASHSALE_AUTH=jwt): the toolkit's
signing key and one token per simulated shopper, minted before the load starts.

The server takes the buyer from the token's `sub`; the tokens here carry `sub`
(the shopper's id), `iat`, `exp` (TOKEN_LIFETIME_S later, longer than any
bounded run and its look-ups) and, when given, `iss` and `aud`. HS256 with a
shared secret, or RS256 / ES256 with a private key whose public half is in the
server's JWKS under `kid`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

# Longer than a run can last (a client process's deadline is at most an hour) plus the
# look-ups.
TOKEN_LIFETIME_S = 6 * 3600
# The server refuses shorter HS256 secrets (FLASHSALE_JWT_SECRET); say so before the run.
MIN_SECRET_BYTES = 32


class IdentityError(ValueError):
    """The signing options cannot make tokens the server would accept."""


@dataclass(frozen=True)
class SigningKey:
    """How the toolkit signs: an HS256 secret or a PEM private key (RS256/ES256).

    Holds key material: never put it in a report (see `describe`)."""

    algorithm: str
    secret: str | None = None
    private_pem: bytes | None = None
    kid: str | None = None
    issuer: str | None = None
    audience: str | None = None
    lifetime_s: int = TOKEN_LIFETIME_S

    @classmethod
    def from_options(
        cls,
        *,
        secret: str | None = None,
        key_file: Path | None = None,
        kid: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
    ) -> SigningKey | None:
        """The key the command line names; None without --jwt-secret or --jwt-key-file."""
        if secret is not None and key_file is not None:
            raise IdentityError("--jwt-secret and --jwt-key-file: give one of them")
        if secret is not None:
            if len(secret.encode()) < MIN_SECRET_BYTES:
                raise IdentityError(f"--jwt-secret: at least {MIN_SECRET_BYTES} bytes")
            return cls("HS256", secret=secret, kid=kid, issuer=issuer, audience=audience)
        if key_file is None:
            if kid or issuer or audience:
                raise IdentityError("--jwt-kid/--jwt-issuer/--jwt-audience need a signing key")
            return None
        try:
            pem = key_file.read_bytes()
        except OSError as exc:
            raise IdentityError(f"--jwt-key-file: cannot read {key_file}: {exc}") from None
        algorithm = _algorithm_of(pem)
        return cls(algorithm, private_pem=pem, kid=kid, issuer=issuer, audience=audience)

    def describe(self) -> dict[str, Any]:
        """For the report: how tokens were made, without the key."""
        return {
            "mode": "jwt",
            "algorithm": self.algorithm,
            "kid": self.kid,
            "issuer": self.issuer,
            "audience": self.audience,
            "tokenLifetimeS": self.lifetime_s,
        }


class Minter:
    """Signs tokens with one key, parsed once (an RSA key parsed per token costs
    more than signing with it)."""

    def __init__(self, key: SigningKey) -> None:
        self.key = key
        self._signing: Any = key.secret
        if key.private_pem is not None:
            self._signing = load_pem_private_key(key.private_pem, password=None)
        self._headers = {"kid": key.kid} if key.kid else None

    def mint(self, sub: str, now_s: int | None = None) -> str:
        issued = int(time.time()) if now_s is None else now_s
        claims: dict[str, Any] = {"sub": sub, "iat": issued, "exp": issued + self.key.lifetime_s}
        if self.key.issuer:
            claims["iss"] = self.key.issuer
        if self.key.audience:
            claims["aud"] = self.key.audience
        return jwt.encode(
            claims, self._signing, algorithm=self.key.algorithm, headers=self._headers
        )

    def mint_all(self, subs: list[str]) -> dict[str, str]:
        """One token per shopper, all issued at the same second."""
        now_s = int(time.time())
        return {sub: self.mint(sub, now_s) for sub in subs}


def auth_phrase(auth: dict[str, Any] | None) -> str:
    """The report's words for how shoppers named themselves (a report's run["auth"])."""
    if not auth or auth.get("mode") != "jwt":
        return "open mode: each body's userId names the buyer"
    kid = f", kid {auth['kid']}" if auth.get("kid") else ""
    return f"jwt mode: one {auth.get('algorithm')} token per shopper{kid}, its sub the buyer"


def _algorithm_of(pem: bytes) -> str:
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise IdentityError(f"--jwt-key-file: not an unencrypted PEM private key ({exc})") from None
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise IdentityError("--jwt-key-file: an RSA key (RS256) or a P-256 EC key (ES256)")
