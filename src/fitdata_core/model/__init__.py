"""Aggregates and values of fitdata. All frozen; state changes return new objects."""
