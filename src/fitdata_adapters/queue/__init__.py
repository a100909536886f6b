"""Job queue adapters: the in-process queue (embedded mode) and Dramatiq on Redis."""
