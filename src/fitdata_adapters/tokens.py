"""Bearer tokens: HS256 JWTs whose ``sub`` is the user id.

``platform_admin`` is a claim for the platform's own operators (admin routes).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
import jwt

from fitdata_core.errors import AuthenticationRequired

ALGORITHM = "HS256"
ISSUER = "fitdata"
DEFAULT_TTL = timedelta(days=7)


@attrs.frozen
class TokenClaims:
    user_id: str
    is_platform_admin: bool


def issue_token(
    secret: str,
    user_id: str,
    *,
    now: datetime,
    platform_admin: bool = False,
    ttl: timedelta = DEFAULT_TTL,
) -> str:
    payload = {
        "sub": user_id,
        "iss": ISSUER,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "platform_admin": platform_admin,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> TokenClaims:
    """Claims of a valid token; AuthenticationRequired for anything else (no detail leaked)."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationRequired("The bearer token has expired.") from exc
    except jwt.PyJWTError as exc:
        raise AuthenticationRequired("The bearer token is not valid.") from exc
    subject = payload.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AuthenticationRequired("The bearer token has no subject.")
    return TokenClaims(user_id=subject, is_platform_admin=payload.get("platform_admin") is True)
