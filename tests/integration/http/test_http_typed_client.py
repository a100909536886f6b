"""A typed Python client generated from the OpenAPI document is usable: openapi-python-client
generates it into a temporary folder, mypy (strict) accepts a short script that lists
members, starts a checkout and requests an export with it, and the script then runs against
the live app. docs/http-api.md tells a consumer how to do the same."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.live_app import SeededApp, seeded_live_app
from support.openapi_document import openapi_document

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent

SCRIPT = '''\
"""Lists members, starts a checkout and requests an export through the generated client."""

import os
import uuid
from uuid import UUID

from fitdata_client import AuthenticatedClient
from fitdata_client.api.billing import checkout
from fitdata_client.api.exports import export_members
from fitdata_client.api.members import list_members
from fitdata_client.models import (
    CheckoutPaidTier,
    CheckoutPaidTierTier,
    CheckoutResponse201,
    ExportMembersResponse202,
    ListMembersResponse200,
)


def main() -> None:
    client = AuthenticatedClient(base_url=os.environ["API"], token=os.environ["TOKEN"])
    org_id = UUID(os.environ["ORG_ID"])

    members = list_members.sync(org_id, client=client, limit=10)
    assert isinstance(members, ListMembersResponse200), members
    emails: list[str] = [member.email for member in members.data]
    print("members", members.meta.total, sorted(emails))

    session = checkout.sync(
        org_id,
        client=client,
        body=CheckoutPaidTier(tier=CheckoutPaidTierTier.PRO),
        idempotency_key=str(uuid.uuid4()),
    )
    assert isinstance(session, CheckoutResponse201), session
    payment_page: str = session.data.url
    print("checkout", payment_page.startswith("http"))

    queued = export_members.sync(org_id, client=client, body=None)
    assert isinstance(queued, ExportMembersResponse202), queued
    job_id: str = queued.data.job_id
    print("export", len(job_id) > 0)


if __name__ == "__main__":
    main()
'''


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path) -> Iterator[SeededApp]:
    data_dir = tmp_path_factory.mktemp("typed-client")
    database = data_dir / "fitdata.db"
    shutil.copyfile(_sqlite_template, database)
    with seeded_live_app(data_dir, database) as app:
        yield app


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=240, check=False, env=env or None
    )


def test_a_generated_client_type_checks_and_works(tmp_path: Path, seeded: SeededApp) -> None:
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(openapi_document()))
    generated = _run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(document),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / "fitdata_client"),
        ],
        cwd=tmp_path,
    )
    assert (tmp_path / "fitdata_client" / "client.py").exists(), generated.stdout + generated.stderr
    script = tmp_path / "use_client.py"
    script.write_text(SCRIPT)

    typed = _run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            # The script is what a consumer writes and what must type-check; the generator's
            # own code is followed for its types, but its internals are not ours to judge.
            "--follow-imports=silent",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "--python-version",
            "3.11",
            str(script),
        ],
        cwd=tmp_path,
    )
    ran = _run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        API=seeded.base_url,
        TOKEN=seeded.tokens["owner"],
        ORG_ID=seeded.org_id,
        PATH="/usr/bin:/bin",
    )

    assert typed.returncode == 0, typed.stdout + typed.stderr
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.splitlines() == [
        "members 4 ['admin@live.io', 'coach@live.io', 'member@live.io', 'owner@live.io']",
        "checkout True",
        "export True",
    ]
