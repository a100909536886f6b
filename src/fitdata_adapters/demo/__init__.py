"""The demo gym: a realistic organization with a year of history, for trying fitdata out.

``fitdata demo`` calls :func:`seed_demo`; it is deterministic and idempotent.
"""

from fitdata_adapters.demo.seed import (
    DEFAULT_MEMBER_COUNT,
    DEMO_ORG_NAME,
    DEMO_SEED,
    LOGINS,
    DemoGym,
    DemoLogin,
    seed_demo,
)

__all__ = [
    "DEFAULT_MEMBER_COUNT",
    "DEMO_ORG_NAME",
    "DEMO_SEED",
    "LOGINS",
    "DemoGym",
    "DemoLogin",
    "seed_demo",
]
