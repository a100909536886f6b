"""Job handlers, one module per feature; each registers itself with the registry."""
