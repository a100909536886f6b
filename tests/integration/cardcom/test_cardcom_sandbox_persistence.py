"""The sandbox's optional state directory: tokens, pages and deals survive a restart."""

from __future__ import annotations

import json
import socket
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from fitdata_adapters.bootstrap import bootstrap
from fitdata_adapters.cardcom import CardcomGateway
from fitdata_adapters.cardcom_sandbox import (
    SandboxConfig,
    SandboxStateError,
    SandboxStateInUse,
    SandboxThread,
)
from fitdata_adapters.cli.app import app as cli_app
from fitdata_adapters.settings import Settings
from fitdata_core.errors import ConfigurationError
from fitdata_core.money import Money
from fitdata_core.ports.providers import ChargeRequest, CheckoutRequest, PaymentResultStatus

from .helpers import API_NAME, FAILED_URL, FAST_RETRIES, SUCCESS_URL, TERMINAL, WebhookReceiver

pytestmark = pytest.mark.integration


def _config(state_dir: Path | None) -> SandboxConfig:
    return SandboxConfig(
        terminal_number=TERMINAL, api_name=API_NAME, time_scale=0.00001, state_dir=state_dir
    )


@pytest.fixture
async def gateways(receiver: WebhookReceiver) -> AsyncIterator[list[CardcomGateway]]:
    made: list[CardcomGateway] = []
    yield made
    for gateway in made:
        await gateway.aclose()


def _gateway(
    made: list[CardcomGateway], sandbox: SandboxThread, webhook_url: str
) -> CardcomGateway:
    gateway = CardcomGateway(
        base_url=sandbox.base_url,
        terminal_number=TERMINAL,
        api_name=API_NAME,
        webhook_url=webhook_url,
        success_url=SUCCESS_URL,
        failed_url=FAILED_URL,
        timeout=5.0,
        retry_policy=FAST_RETRIES,
    )
    made.append(gateway)
    return gateway


def _renewal(token: str, expiry: str, external_id: str) -> ChargeRequest:
    return ChargeRequest(
        card_token=token,
        card_expiry_mmyy=expiry,
        amount=Money("249"),
        external_uniq_id=external_id,
        description="Pro renewal",
    )


async def test_a_token_made_before_a_restart_charges_after_it(
    tmp_path: Path,
    receiver: WebhookReceiver,
    gateways: list[CardcomGateway],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    state_dir = tmp_path / "cardcom-sandbox"
    with SandboxThread(_config(state_dir)) as first:
        gateway = _gateway(gateways, first, receiver.url)
        page = await gateway.create_checkout(
            CheckoutRequest(return_value="txn-1", amount=Money("249"), product_name="Pro")
        )
        async with httpx.AsyncClient(base_url=first.base_url) as control:
            paid = await control.post(f"/_sandbox/low-profiles/{page.low_profile_id}/pay")
        assert paid.json()["approved"] is True
        await receiver.wait_for(1)
        before = await gateway.get_checkout_result(page.low_profile_id)
        assert before.status is PaymentResultStatus.COMPLETED
        token = before.card_token
        assert token is not None
        first_charge = await gateway.charge_token(
            _renewal(token, before.card_expiry_mmyy or "", "renew-a1")
        )
        assert first_charge.completed

    # A new sandbox (a new port, a new engine) on the same directory.
    with SandboxThread(_config(state_dir)) as second:
        gateway = _gateway(gateways, second, receiver.url)
        renewed = await gateway.charge_token(
            _renewal(token, before.card_expiry_mmyy or "", "renew-a2")
        )
        assert renewed.completed
        assert renewed.provider_transaction_id
        # Transaction numbers carry on rather than start over.
        assert int(renewed.provider_transaction_id) > int(first_charge.provider_transaction_id)
        # The earlier charge is remembered too: asking again answers with it, no new charge.
        looked_up = await gateway.find_charge("renew-a1")
        assert looked_up is not None
        assert looked_up.provider_transaction_id == first_charge.provider_transaction_id
        # And so is the page with its result.
        after = await gateway.get_checkout_result(page.low_profile_id)
        assert after.status is PaymentResultStatus.COMPLETED
        assert after.card_token == token
        async with httpx.AsyncClient(base_url=second.base_url) as control:
            charges = (await control.get("/_sandbox/charges")).json()
            deliveries = (await control.get("/_sandbox/webhooks")).json()["deliveries"]
        assert [(c["Source"], c["Charged"]) for c in charges["charges"]] == [
            ("page", True),
            ("token", True),
            ("token", True),
        ]
        assert [d["state"] for d in deliveries] == ["delivered"]

    state_file = state_dir / "state.json"
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600  # it holds the (fake) tokens
    assert token in state_file.read_text()  # kept, as Cardcom keeps it
    captured = capsys.readouterr()
    assert token not in captured.out + captured.err
    assert token not in caplog.text


async def test_reset_empties_the_kept_state(tmp_path: Path, gateways: list[CardcomGateway]) -> None:
    state_dir = tmp_path / "state"
    with SandboxThread(_config(state_dir)) as sandbox:
        gateway = _gateway(gateways, sandbox, "http://127.0.0.1:9/unused")
        page = await gateway.create_checkout(
            CheckoutRequest(return_value="txn-2", amount=Money("249"), product_name="Pro")
        )
        assert page.low_profile_id in (state_dir / "state.json").read_text()
        async with httpx.AsyncClient(base_url=sandbox.base_url) as control:
            assert (await control.post("/_sandbox/reset")).status_code == 200
    kept = json.loads((state_dir / "state.json").read_text())
    assert kept["low_profiles"] == []
    assert kept["cards"] == []


def test_a_corrupt_state_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    state_file = state_dir / "state.json"
    state_file.write_text('{"version": 1, "cards": [{"token": "secret-looking')

    with pytest.raises(SandboxStateError) as raised:
        SandboxThread(_config(state_dir))
    message = str(raised.value)
    assert str(state_file) in message
    assert "delete it" in message
    assert "secret-looking" not in message  # never echoes what the file holds
    assert state_file.read_text().startswith('{"version": 1')  # left alone for inspection

    # The directory is not left locked by the failed start: a fixed file starts fine.
    state_file.unlink()
    with SandboxThread(_config(state_dir)) as sandbox:
        assert httpx.get(f"{sandbox.base_url}/_sandbox").status_code == 200


def test_the_cli_reports_a_corrupt_state_file_in_one_line(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / "state.json").write_bytes(b"\x00\xff not json")

    result = CliRunner().invoke(
        cli_app, ["sandbox", "cardcom", "--port", "0", "--state-dir", str(state_dir)]
    )

    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert f"{state_dir / 'state.json'} is unreadable" in " ".join(result.output.split())


def test_two_sandboxes_cannot_share_a_state_directory(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    with SandboxThread(_config(state_dir)), pytest.raises(SandboxStateInUse) as raised:
        SandboxThread(_config(state_dir))
    assert str(state_dir) in str(raised.value)
    # Once the first one stopped, the directory is free again.
    with SandboxThread(_config(state_dir)) as sandbox:
        assert sandbox.port > 0


def _embedded_settings(data_dir: Path) -> Settings:
    return Settings.from_env(
        {
            "FITDATA_DATA_DIR": str(data_dir),
            "FITDATA_MODE": "embedded",
            "FITDATA_DATABASE_URL": f"sqlite:///{data_dir / 'fitdata.db'}",
            "FITDATA_JWT_SECRET": "persistence-test-secret-persistence-00",
            "FITDATA_LOG_LEVEL": "WARNING",
        }
    )


async def test_the_embedded_sandbox_keeps_its_state_under_the_data_dir(tmp_path: Path) -> None:
    settings = _embedded_settings(tmp_path / "var")
    assert settings.uses_sandbox
    runtime = bootstrap(settings)
    try:
        page = await runtime.services.payment_gateway.create_checkout(
            CheckoutRequest(return_value="txn-3", amount=Money("249"), product_name="Pro")
        )
    finally:
        await runtime.aclose()
    state_file = tmp_path / "var" / "cardcom-sandbox" / "state.json"
    assert page.low_profile_id in state_file.read_text()

    restarted = bootstrap(settings)
    try:
        result = await restarted.services.payment_gateway.get_checkout_result(page.low_profile_id)
    finally:
        await restarted.aclose()
    assert result.status is PaymentResultStatus.NOT_FINALISED  # known, not "not found"


def test_the_embedded_sandbox_refuses_a_corrupt_state_file(tmp_path: Path) -> None:
    settings = _embedded_settings(tmp_path / "var")
    state_dir = tmp_path / "var" / "cardcom-sandbox"
    state_dir.mkdir(parents=True)
    (state_dir / "state.json").write_text("[]")

    with pytest.raises(ConfigurationError) as raised:
        bootstrap(settings)
    assert f"{state_dir / 'state.json'} is unreadable" in str(raised.value)


async def test_a_payment_page_url_from_before_a_restart_still_opens(tmp_path: Path) -> None:
    """The embedded sandbox comes back on the port it had, so a checkout reused within its
    window (or a browser tab left open) still reaches the page."""
    settings = _embedded_settings(tmp_path / "var")
    runtime = bootstrap(settings)
    try:
        page = await runtime.services.payment_gateway.create_checkout(
            CheckoutRequest(return_value="txn-4", amount=Money("249"), product_name="Pro")
        )
    finally:
        await runtime.aclose()

    restarted = bootstrap(settings)
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(page.url)
    finally:
        await restarted.aclose()

    assert response.status_code == 200
    assert "Pay" in response.text


async def test_a_busy_remembered_port_falls_back_to_a_free_one(tmp_path: Path) -> None:
    settings = _embedded_settings(tmp_path / "var")
    runtime = bootstrap(settings)
    await runtime.aclose()
    port_file = tmp_path / "var" / "cardcom-sandbox" / "port"
    remembered = int(port_file.read_text())

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", remembered))
        squatter.listen()
        restarted = bootstrap(settings)
        try:
            page = await restarted.services.payment_gateway.create_checkout(
                CheckoutRequest(return_value="txn-5", amount=Money("249"), product_name="Pro")
            )
        finally:
            await restarted.aclose()

    assert f":{remembered}/" not in page.url
    assert int(port_file.read_text()) != remembered
