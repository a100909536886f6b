"""A Litestar application class without Litestar's pydantic plugins, for every app this
project builds (the HTTP API and the embedded provider sandboxes).

Litestar registers its pydantic plugins whenever pydantic can be imported, and importing them
loads pydantic: 0.2-0.7 s of a start with cached bytecode, more than a second without. Our
apps have no pydantic models (bodies and answers are attrs classes, described by Litestar's
attrs schema plugin), and pydantic is no dependency of the service: it is present only where
a development tool brought it along. Leaving the plugins out makes an app behave and document
itself the same whether pydantic is installed or not.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.plugins import PluginProtocol
from litestar.plugins.attrs import AttrsSchemaPlugin
from litestar.plugins.core import MsgspecDIPlugin

__all__ = ["LeanLitestar"]


class LeanLitestar(Litestar):
    """``Litestar`` with its default plugins minus the pydantic ones."""

    @staticmethod
    def _get_default_plugins(plugins: list[PluginProtocol]) -> list[PluginProtocol]:
        # Litestar's own defaults (Litestar._get_default_plugins, 2.x) without pydantic's.
        plugins.append(MsgspecDIPlugin())
        if not any(isinstance(plugin, AttrsSchemaPlugin) for plugin in plugins):
            plugins.append(AttrsSchemaPlugin())
        return plugins
