"""The ``fitdata`` command line (``fitdata --help``)."""

from fitdata_adapters.cli.app import app, main

__all__ = ["app", "main"]
