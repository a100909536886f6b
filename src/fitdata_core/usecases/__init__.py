"""Use cases: async functions over the ports. Each checks who may call it first.

Import the area you need: ``from fitdata_core.usecases import billing, catalog, exports,
members, organizations``; each module declares its public names in ``__all__``.
"""

__all__ = ["billing", "catalog", "exports", "idempotency", "members", "organizations"]
