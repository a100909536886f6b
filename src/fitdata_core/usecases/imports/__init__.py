"""Import use cases: the provider credentials an import uses, and the import engine."""

__all__: list[str] = []
