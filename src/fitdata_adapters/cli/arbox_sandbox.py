"""``fitdata sandbox arbox``: the project's fake Arbox (both APIs) on its own."""

from __future__ import annotations

from typing import Annotated

import typer

from fitdata_adapters.cli.output import fail, note


def sandbox_arbox(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8200,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    members: Annotated[
        int, typer.Option(min=0, max=1_000_000, help="Generated members to serve (0: none).")
    ] = 1500,
    seed: Annotated[int, typer.Option(help="Seed of the generated data set.")] = 1,
    api_key: Annotated[
        str, typer.Option(help="The Business API key accepted.")
    ] = "arbox-sandbox-key",
    email: Annotated[
        str, typer.Option(help="The Management login's email.")
    ] = "owner@arbox-sandbox.example.com",
    password: Annotated[
        str, typer.Option(help="The Management login's password.")
    ] = "arbox-sandbox-password",  # noqa: S107 - the sandbox's own demo login
    latency_ms: Annotated[
        float, typer.Option(min=0, help="Delay added to every API answer, in ms.")
    ] = 0.0,
) -> None:
    """Run the fake Arbox server (Business and Management APIs) until stopped.

    Test controls (data sets, credentials, latency, injected failures, the calls received)
    are listed at GET /_sandbox.
    """
    from fitdata_adapters.arbox_sandbox import (
        ArboxSandbox,
        SandboxConfig,
        expected_counts,
        run_sandbox,
    )
    from fitdata_adapters.cli.serve import exit_quietly_after_signals

    config = SandboxConfig(
        api_key=api_key,
        email=email,
        password=password,
        members=members,
        seed=seed,
        latency_ms=latency_ms,
    )
    sandbox = ArboxSandbox(config)
    counts = expected_counts(members)
    note(
        f"Arbox sandbox on http://{host}:{port} (FITDATA_ARBOX_BASE_URL): {members} members"
        f" ({counts['inactive_only']} inactive, {counts['in_both_reports']} in both reports),"
        f" {counts['leads']} leads; API key {api_key!r}, login {email!r} / {password!r}."
        f" Controls: http://{host}:{port}/_sandbox"
    )
    exit_quietly_after_signals()
    try:
        run_sandbox(host, port, sandbox)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port} ({exc.strerror or exc})")
