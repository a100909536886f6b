"""Operator controls over a user's access: revoking tokens and the platform-admin flag.

Only the operator's own tools (the ``fitdata token`` commands) call these: holding the
database is the authority, so there is no actor to check. The HTTP layer reads the user's row
on every request, so each change takes effect on the caller's next request.
"""

from __future__ import annotations

from fitdata_core.errors import NotFound
from fitdata_core.model.organizations import User
from fitdata_core.rules.validation import validate_email
from fitdata_core.services import Services


async def revoke_tokens(svc: Services, email: str, *, drop_platform_admin: bool = False) -> User:
    """Refuse every bearer token issued to the user with ``email`` so far (tokens issued from
    the next whole second on work again); with ``drop_platform_admin`` also clear the stored
    platform-admin flag. Returns the user as saved; ``NotFound`` for an unknown email."""
    address = validate_email(email)
    async with svc.uow() as uow:
        user = await uow.users.get_by_email(address)
        if user is None:
            raise NotFound(f"No user has the email {address}.")
        user = user.revoke_tokens(svc.clock.now())
        if drop_platform_admin:
            user = user.with_platform_admin(False)
        await uow.users.update(user)
        await uow.commit()
    return user


async def set_platform_admin(svc: Services, email: str, flag: bool) -> User:
    """Set or clear the stored platform-admin flag of the user with ``email`` (a token's
    ``platform_admin`` claim counts only while it is set). ``NotFound`` for an unknown email."""
    address = validate_email(email)
    async with svc.uow() as uow:
        user = await uow.users.get_by_email(address)
        if user is None:
            raise NotFound(f"No user has the email {address}.")
        if user.is_platform_admin != flag:
            user = user.with_platform_admin(flag)
            await uow.users.update(user)
            await uow.commit()
    return user


__all__ = ["revoke_tokens", "set_platform_admin"]
