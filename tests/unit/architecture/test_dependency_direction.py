"""Dependencies point only inward, and the ``fitdata`` command finds the subcommands the
outer packages contribute (entry points), so no lower package imports a higher one."""

from __future__ import annotations

import importlib
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from fitdata_adapters.cli.app import app
from fitdata_adapters.plugins import COMPANIONS_GROUP, command_entry_points

ROOT = Path(__file__).resolve().parents[3]
# The module, not the Typer app that ``fitdata_adapters.cli`` re-exports under the same name.
cli_app_module = importlib.import_module("fitdata_adapters.cli.app")


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_import_contracts_have_no_exceptions() -> None:
    contracts = _pyproject()["tool"]["importlinter"]["contracts"]

    assert all("ignore_imports" not in contract for contract in contracts)
    layers = [c for c in contracts if c["type"] == "layers"]
    assert [c["layers"] for c in layers] == [
        ["fitdata_http | fitdata_workers", "fitdata_adapters", "fitdata_core"]
    ]


def test_each_process_command_belongs_to_its_package() -> None:
    owners = {ep.name: ep.value.split(".", 1)[0] for ep in command_entry_points()}

    assert owners["serve"] == "fitdata_http"
    assert owners["worker"] == "fitdata_workers"
    assert owners["scheduler"] == "fitdata_workers"
    declared = _pyproject()["project"]["entry-points"]
    assert declared[COMPANIONS_GROUP] == {"embedded_worker": "fitdata_workers.cli:embedded_worker"}


def test_the_fitdata_command_lists_the_contributed_commands_first() -> None:
    names = [
        command.name or getattr(command.callback, "__name__", "")
        for command in app.registered_commands
    ]

    groups = {group.name for group in app.registered_groups}

    assert names[:3] == ["serve", "worker", "scheduler"]
    assert {"migrate", "demo"} <= set(names)
    assert {"token", "keys", "billing", "sandbox"} <= groups


def test_the_cli_package_source_never_imports_the_outer_packages() -> None:
    for path in (ROOT / "src" / "fitdata_adapters").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for outer in ("fitdata_http", "fitdata_workers"):
            assert f"import {outer}" not in text, path
            assert f"from {outer}" not in text, path


def test_a_command_that_cannot_be_loaded_fails_when_used_not_at_help(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = EntryPoint(
        name="broken", value="fitdata_no_such_package.cli:run", group="fitdata.commands"
    )
    monkeypatch.setattr(cli_app_module, "command_entry_points", lambda: [broken])
    root = typer.Typer()

    @root.command()
    def other() -> None:
        """Another command."""

    cli_app_module._add_contributed_commands(root)
    runner = CliRunner()

    assert runner.invoke(root, ["other"]).exit_code == 0
    used = runner.invoke(root, ["broken"])
    assert used.exit_code == 1
    assert "the broken command could not be loaded" in used.stderr
    assert "fitdata_no_such_package" in used.stderr
