"""Pure rules: validation, normalisation, CSV safety, feature policy.

Each rule lives in its module (``fitdata_core.rules.csv_format``, ``.validation``, ...), which
declares its public names in ``__all__``; the package itself re-exports nothing.
"""

__all__: list[str] = []
