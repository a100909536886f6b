"""Rate limiter adapters shared across processes (the in-process one is in ``memory``)."""
