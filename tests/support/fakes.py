"""Stand-ins for ports a test never expects to reach."""

from __future__ import annotations


class NoPayments:
    """A payment gateway for tests that must not touch it: any use is a test bug."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"unexpected use of payment_gateway.{name}")
