"""``fitdata serve`` hides its start-up objects from the cyclic garbage collector once the
app and its companions have started (see :func:`fitdata_http.serve.freeze_startup_objects`)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from fitdata_adapters.bootstrap import bootstrap
from fitdata_adapters.settings import Settings
from fitdata_http.serve import freeze_startup_objects, serving_app

pytestmark = pytest.mark.integration


async def test_the_last_start_up_hook_freezes_what_start_up_made(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = Settings.from_env(
        {
            "FITDATA_MODE": "embedded",
            "FITDATA_DATA_DIR": str(tmp_path),
            "FITDATA_DATABASE_URL": sqlite_url,
            "FITDATA_JWT_SECRET": "serve-freeze-test-secret-long-enough",
        }
    )
    runtime = bootstrap(settings)
    app = serving_app(runtime)
    assert app.on_startup[-1] is freeze_startup_objects
    assert gc.get_freeze_count() == 0
    try:
        async with AsyncTestClient(app) as client:
            assert gc.get_freeze_count() > 0  # the app, its routes, the companions, modules
            assert (await client.get("/readyz")).status_code == 200
    finally:
        gc.unfreeze()
        await runtime.aclose()
