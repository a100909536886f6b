"""``verify_token`` checks a token's signature once per process and its expiry every time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from fitdata_adapters import tokens
from fitdata_adapters.tokens import issue_token, verify_token
from fitdata_core.errors import AuthenticationRequired

SECRET = "a-secret-of-at-least-thirty-two-bytes-for-hs256"
OTHER_SECRET = "another-secret-of-at-least-thirty-two-bytes-long"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    tokens._verified.cache_clear()


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    token = issue_token(SECRET, "user-1", now=now, ttl=timedelta(minutes=5))
    assert verify_token(SECRET, token).user_id == "user-1"
    assert tokens._verified.cache_info().currsize == 1

    expires = int((now + timedelta(minutes=5)).timestamp())
    monkeypatch.setattr(tokens.time, "time", lambda: expires - 0.5)
    assert verify_token(SECRET, token).user_id == "user-1"  # cached, still valid
    monkeypatch.setattr(tokens.time, "time", lambda: float(expires))
    with pytest.raises(AuthenticationRequired, match="has expired"):
        verify_token(SECRET, token)
    assert tokens._verified.cache_info().hits == 2


def test_a_remembered_token_is_checked_again_under_another_secret() -> None:
    token = issue_token(SECRET, "user-1", now=datetime.now(UTC))
    verify_token(SECRET, token)
    with pytest.raises(AuthenticationRequired, match="not valid"):
        verify_token(OTHER_SECRET, token)


def test_invalid_tokens_are_not_remembered() -> None:
    forged = jwt.encode({"sub": "user-1", "iss": "fitdata", "exp": 2**40, "iat": 0}, OTHER_SECRET)
    for _ in range(3):
        with pytest.raises(AuthenticationRequired, match="not valid"):
            verify_token(SECRET, forged)
    info = tokens._verified.cache_info()
    assert (info.currsize, info.hits, info.misses) == (0, 0, 3)


def test_an_expired_token_is_refused_before_it_is_remembered() -> None:
    token = issue_token(SECRET, "user-1", now=datetime.now(UTC), ttl=timedelta(minutes=-1))
    with pytest.raises(AuthenticationRequired, match="has expired"):
        verify_token(SECRET, token)
    assert tokens._verified.cache_info().currsize == 0
