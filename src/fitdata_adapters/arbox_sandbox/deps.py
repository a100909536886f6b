"""The dependency every handler receives: the sandbox engine, injected by name."""

from __future__ import annotations

from typing import TypeAlias

from litestar.di import NamedDependency

from fitdata_adapters.arbox_sandbox.engine import ArboxSandbox

#: Annotate handler parameters ``sandbox: Sandbox``.
Sandbox: TypeAlias = NamedDependency[ArboxSandbox]
