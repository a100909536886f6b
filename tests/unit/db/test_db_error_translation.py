"""What the database's refusals become in the error tree."""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc

from fitdata_adapters.db.errors import database_unavailable
from fitdata_core.errors import DATABASE_CONTENTION, DatabaseUnavailable


class _DriverError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__("driver error")
        self.sqlstate = sqlstate


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
def test_a_deadlock_or_serialization_failure_is_contention_worth_retrying(sqlstate: str) -> None:
    with pytest.raises(DatabaseUnavailable) as caught, database_unavailable():
        raise sa_exc.OperationalError("UPDATE ...", {}, _DriverError(sqlstate))

    assert caught.value.code == DATABASE_CONTENTION
    assert "UPDATE" not in caught.value.message


@pytest.mark.parametrize("sqlstate", [None, "08006", "57P01"])
def test_other_operational_failures_are_plain_unavailability(sqlstate: str | None) -> None:
    with pytest.raises(DatabaseUnavailable) as caught, database_unavailable():
        raise sa_exc.OperationalError("SELECT 1", {}, _DriverError(sqlstate))

    assert caught.value.code == "DATABASE_UNAVAILABLE"
