"""``python -m fitdata_adapters.cli`` is the ``fitdata`` command."""

from fitdata_adapters.cli import main

main()
