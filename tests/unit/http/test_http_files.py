"""GET /files/{key}: signed downloads from the local-folder storage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import attrs
from http_support import make_runtime
from litestar import Litestar
from litestar.testing import AsyncTestClient

from fitdata_adapters.bootstrap import Runtime
from fitdata_adapters.clock import ManualClock
from fitdata_adapters.storage.local import LocalFolderStorage
from fitdata_adapters.storage.memory import MemoryStorage
from fitdata_http import create_app

Client = AsyncTestClient[Litestar]
KEY = "exports/org-1/job-1.csv"
CONTENT = "\ufeffemail,first_name\nnoa@example.com,Noa\n".encode()


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data[:10]
    yield data[10:]


def _local_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def _signed(runtime: Runtime, key: str, name: str | None = None) -> str:
    storage = runtime.services.storage
    return _local_path(
        await storage.signed_url(key, expires_in=timedelta(hours=1), download_name=name)
    )


async def _store(runtime: Runtime) -> None:
    await runtime.services.storage.put_stream(KEY, _chunks(CONTENT), content_type="text/csv")


async def test_a_signed_link_downloads_the_file(runtime: Runtime, client: Client) -> None:
    await _store(runtime)
    response = await client.get(await _signed(runtime, KEY, name="members export.csv"))

    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"members export.csv\"; filename*=UTF-8''members%20export.csv"
    )


async def test_a_tampered_link_is_403(runtime: Runtime, client: Client) -> None:
    await _store(runtime)
    link = await _signed(runtime, KEY)
    path, query = link.split("?")
    bad_sig = await client.get(link.replace("sig=", "sig=0"))
    other_key = await client.get(f"/files/exports/org-2/job-1.csv?{query}")
    renamed = await client.get(link + "&name=evil.exe")
    no_sig = await client.get(path)

    for response in (bad_sig, other_key, renamed):
        assert response.status_code == 403
        assert response.json()["detail"] == "This download link is invalid or has expired."
    assert no_sig.status_code == 400  # the query parameters are required


async def test_an_expired_link_is_403(runtime: Runtime, client: Client) -> None:
    await _store(runtime)
    link = await _signed(runtime, KEY)
    clock = runtime.services.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(hours=1, seconds=1))

    response = await client.get(link)
    assert response.status_code == 403


async def test_a_valid_link_to_a_missing_object_is_404(runtime: Runtime, client: Client) -> None:
    response = await client.get(await _signed(runtime, "exports/org-1/gone.csv"))

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_traversal_key_is_refused(runtime: Runtime, client: Client) -> None:
    response = await client.get("/files/../secrets.txt?expires=9999999999&sig=abc")
    assert response.status_code in {403, 404}
    response = await client.get("/files/exports/%2e%2e/x.csv?expires=9999999999&sig=abc")
    assert response.status_code == 403


async def test_files_route_is_absent_unless_storage_is_the_local_folder(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path)
    runtime.services = attrs.evolve(runtime.services, storage=MemoryStorage())
    try:
        async with AsyncTestClient(app=create_app(runtime)) as client:
            response = await client.get("/files/exports/a.csv?expires=1&sig=x")
    finally:
        await runtime.aclose()

    assert response.status_code == 404
    assert response.json()["detail"] == "Nothing is served at this path."


def test_the_fixture_runtime_uses_local_storage(runtime: Runtime) -> None:
    assert isinstance(runtime.services.storage, LocalFolderStorage)


async def test_a_browser_opening_an_expired_link_gets_a_readable_page(
    runtime: Runtime, client: Client
) -> None:
    await _store(runtime)
    link = await _signed(runtime, KEY)
    clock = runtime.services.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(hours=1, seconds=1))
    browser_accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

    page = await client.get(link, headers={"Accept": browser_accept})
    api = await client.get(link, headers={"Accept": "application/json"})

    assert page.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert 'data-state="expired"' in page.text
    assert "This download link is invalid or has expired." in page.text
    assert "fresh link" in page.text
    assert api.status_code == 403
    assert api.json()["detail"] == "This download link is invalid or has expired."
