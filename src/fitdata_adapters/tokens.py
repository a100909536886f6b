"""Bearer tokens: HS256 JWTs whose ``sub`` is the user id.

``platform_admin`` is a claim for the platform's own operators (admin routes). A claim alone
grants nothing: the HTTP layer also requires the user's stored ``is_platform_admin`` flag and
refuses tokens issued before the user's ``tokens_valid_after`` (``fitdata token revoke``).
Platform-admin tokens live at most :data:`ADMIN_TOKEN_MAX_TTL`; a longer-lived one is refused
when issued and when presented.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import attrs
import jwt

from fitdata_core.errors import AuthenticationRequired

ALGORITHM = "HS256"
ISSUER = "fitdata"
DEFAULT_TTL = timedelta(days=7)
ADMIN_TOKEN_MAX_TTL = timedelta(days=1)
"""The longest a platform-admin token may live: a leaked one is useless by the next day."""


@attrs.frozen
class TokenClaims:
    user_id: str
    is_platform_admin: bool
    issued_at: datetime


def issue_token(
    secret: str,
    user_id: str,
    *,
    now: datetime,
    platform_admin: bool = False,
    ttl: timedelta = DEFAULT_TTL,
) -> str:
    """A signed token for ``user_id`` valid for ``ttl`` from ``now``.

    Raises ``ValueError`` for a platform-admin token longer-lived than
    :data:`ADMIN_TOKEN_MAX_TTL`.
    """
    if platform_admin and ttl > ADMIN_TOKEN_MAX_TTL:
        raise ValueError(
            f"A platform-admin token may live at most {_describe(ADMIN_TOKEN_MAX_TTL)}."
        )
    payload = {
        "sub": user_id,
        "iss": ISSUER,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "platform_admin": platform_admin,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> TokenClaims:
    """Claims of a valid token; AuthenticationRequired for anything else (no detail leaked).

    A token's signature and claims are checked once per process (a client sends the same
    token on every request, and the check was a tenth of a member-list request's CPU); its
    expiry is checked on every call. Only valid tokens are remembered, the last
    :data:`_VERIFIED_TOKENS` of them, so junk tokens neither fill the cache nor skip a check.
    """
    claims, expires = _verified(secret, token)
    if expires <= time.time():  # PyJWT's own rule: expired from the second ``exp`` names
        raise AuthenticationRequired("The bearer token has expired.")
    return claims


_VERIFIED_TOKENS = 4096


@lru_cache(maxsize=_VERIFIED_TOKENS)
def _verified(secret: str, token: str) -> tuple[TokenClaims, int]:
    """The claims of a well-signed, well-formed token and its ``exp``; raises otherwise
    (``lru_cache`` keeps no exceptions)."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iss", "iat"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationRequired("The bearer token has expired.") from exc
    except jwt.PyJWTError as exc:
        raise AuthenticationRequired("The bearer token is not valid.") from exc
    subject = payload.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AuthenticationRequired("The bearer token has no subject.")
    issued, expires = payload.get("iat"), payload.get("exp")
    if not isinstance(issued, int) or not isinstance(expires, int):
        raise AuthenticationRequired("The bearer token is not valid.")
    is_admin = payload.get("platform_admin") is True
    if is_admin and expires - issued > ADMIN_TOKEN_MAX_TTL.total_seconds():
        # Minted elsewhere or before the cap: refused outright, not silently downgraded.
        raise AuthenticationRequired(
            "A platform-admin token may live at most "
            f"{_describe(ADMIN_TOKEN_MAX_TTL)}; issue a new one."
        )
    claims = TokenClaims(
        user_id=subject,
        is_platform_admin=is_admin,
        issued_at=datetime.fromtimestamp(issued, UTC),
    )
    return claims, expires


def _describe(span: timedelta) -> str:
    hours = int(span.total_seconds() // 3600)
    return f"{hours} hours"
