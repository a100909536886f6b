"""The credential keyring: AES-256-GCM, named keys, rotation (the FIT-120 fix)."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fitdata_adapters.crypto.keyring import EMBEDDED_KEY_FILE, KeyringCipher
from fitdata_core.errors import ConfigurationError, InvalidInput
from fitdata_core.ports.infrastructure import CredentialCipher

OLD_SPEC = KeyringCipher.generate_spec("kid0")
NEW_SPEC = KeyringCipher.generate_spec("kid1")


def key_text(spec: str) -> str:
    return spec.partition(":")[2]


@pytest.fixture
def cipher() -> KeyringCipher:
    return KeyringCipher.from_spec(f"{NEW_SPEC},{OLD_SPEC}")


def test_satisfies_the_port(cipher: KeyringCipher) -> None:
    port: CredentialCipher = cipher
    assert port.decrypt(port.encrypt(b"x", context="c"), context="c") == b"x"


@given(plaintext=st.binary(max_size=512), context=st.text(max_size=40))
def test_round_trip(plaintext: bytes, context: str) -> None:
    cipher = KeyringCipher.from_spec(f"{NEW_SPEC},{OLD_SPEC}")
    sealed = cipher.encrypt(plaintext, context=context)
    assert sealed.key_id == "kid1"
    assert len(sealed.blob) == 1 + 12 + len(plaintext) + 16  # version, nonce, body, tag
    if len(plaintext) >= 8:
        assert plaintext not in sealed.blob
    assert cipher.decrypt(sealed, context=context) == plaintext


def test_every_message_has_a_fresh_nonce(cipher: KeyringCipher) -> None:
    blobs = {cipher.encrypt(b"same secret", context="c").blob for _ in range(50)}
    assert len(blobs) == 50
    assert len({blob[1:13] for blob in blobs}) == 50


def test_wrong_context_is_undecryptable(cipher: KeyringCipher) -> None:
    sealed = cipher.encrypt(b"api-key-123", context="arbox:org-1")
    with pytest.raises(InvalidInput) as caught:
        cipher.decrypt(sealed, context="arbox:org-2")
    assert caught.value.code == "UNDECRYPTABLE"
    assert "Re-enter the credentials" in caught.value.message
    assert "restore the old key" in caught.value.message
    assert "api-key-123" not in caught.value.message


def test_tampered_blob_is_undecryptable(cipher: KeyringCipher) -> None:
    sealed = cipher.encrypt(b"secret", context="c")
    flipped = bytearray(sealed.blob)
    flipped[-1] ^= 1
    for blob in (bytes(flipped), b"", b"\x02" + sealed.blob[1:], sealed.blob[:20]):
        with pytest.raises(InvalidInput) as caught:
            cipher.decrypt(attrs.evolve(sealed, blob=blob), context="c")
        assert caught.value.code == "UNDECRYPTABLE"


def test_relabelled_key_id_is_undecryptable() -> None:
    # Same key material under two ids: the key id is bound into the associated data.
    same = key_text(NEW_SPEC)
    cipher = KeyringCipher.from_spec(f"a:{same},b:{same}")
    sealed = cipher.encrypt(b"secret", context="c")
    with pytest.raises(InvalidInput):
        cipher.decrypt(attrs.evolve(sealed, key_id="b"), context="c")


def test_unknown_key_after_rotation_is_undecryptable_and_says_what_to_do() -> None:
    """FIT-120 as it was: the key changed and the old one was dropped."""
    old = KeyringCipher.from_spec(OLD_SPEC)
    sealed = old.encrypt(b"arbox-password", context="arbox:org-1")
    new_only = KeyringCipher.from_spec(NEW_SPEC)
    with pytest.raises(InvalidInput) as caught:
        new_only.decrypt(sealed, context="arbox:org-1")
    error = caught.value
    assert error.code == "UNDECRYPTABLE"
    assert "'kid0'" in error.message
    assert "Re-enter the credentials, or restore the old key" in error.message
    assert key_text(OLD_SPEC) not in error.message
    assert key_text(NEW_SPEC) not in error.message
    assert "arbox-password" not in error.message


def test_rotation_keeps_old_data_readable_and_reseals_under_the_current_key() -> None:
    old = KeyringCipher.from_spec(OLD_SPEC)
    sealed_before = old.encrypt(b"token", context="card:org-9")
    rotated_ring = KeyringCipher.from_spec(f"{NEW_SPEC},{OLD_SPEC}")

    assert rotated_ring.decrypt(sealed_before, context="card:org-9") == b"token"
    assert rotated_ring.needs_rotation(sealed_before)
    resealed = rotated_ring.rotate(sealed_before, "card:org-9")
    assert resealed.key_id == "kid1"
    assert not rotated_ring.needs_rotation(resealed)
    assert rotated_ring.rotate(resealed, context="card:org-9") is resealed

    # Once every row is re-sealed the old key can go.
    new_only = KeyringCipher.from_spec(NEW_SPEC)
    assert new_only.decrypt(resealed, context="card:org-9") == b"token"


def test_rotate_refuses_a_wrong_context(cipher: KeyringCipher) -> None:
    sealed = KeyringCipher.from_spec(OLD_SPEC).encrypt(b"x", context="a")
    with pytest.raises(InvalidInput):
        cipher.rotate(sealed, "b")


def test_repr_and_str_never_show_keys(cipher: KeyringCipher) -> None:
    for text in (repr(cipher), str(cipher), f"{cipher}"):
        assert key_text(NEW_SPEC) not in text
        assert key_text(OLD_SPEC) not in text
        assert "kid1" in text
    assert cipher.current_key_id == "kid1"
    assert cipher.key_ids == ("kid1", "kid0")


def test_spec_accepts_urlsafe_base64_and_whitespace() -> None:
    raw = bytes(range(32))
    spec = f" k2:{base64.urlsafe_b64encode(raw).decode()} , k1:{base64.b64encode(raw).decode()} "
    cipher = KeyringCipher.from_spec(spec)
    assert cipher.key_ids == ("k2", "k1")
    assert KeyringCipher([("k2", raw)]).decrypt(cipher.encrypt(b"x", context="c"), context="c")


@pytest.mark.parametrize(
    "spec",
    ["", "nocolon", "k1:not-base64!!", "k1:" + base64.b64encode(b"short").decode(), "bad id:AA=="],
)
def test_bad_specs_are_refused_without_echoing_key_material(spec: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        KeyringCipher.from_spec(spec)
    assert "CREDENTIAL_KEYS" in caught.value.message
    if ":" in spec:
        assert spec.partition(":")[2] not in caught.value.message


def test_duplicate_key_ids_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="twice"):
        KeyringCipher.from_spec(f"{NEW_SPEC},{NEW_SPEC}")


def test_generated_specs_are_random_and_parse() -> None:
    specs = {KeyringCipher.generate_spec() for _ in range(10)}
    assert len(specs) == 10
    for spec in specs:
        assert len(KeyringCipher.from_spec(spec).key_ids) == 1


class TestEmbedded:
    def test_creates_a_private_key_file_and_reuses_it(self, tmp_path: Path) -> None:
        data_dir = tmp_path / "data"
        first = KeyringCipher.for_embedded(data_dir)
        key_file = data_dir / EMBEDDED_KEY_FILE
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        sealed = first.encrypt(b"kept across restarts", context="c")

        second = KeyringCipher.for_embedded(data_dir)  # a restart
        assert second.decrypt(sealed, context="c") == b"kept across restarts"
        assert [p.name for p in data_dir.iterdir()] == [EMBEDDED_KEY_FILE]

    def test_tightens_a_key_file_others_can_read(self, tmp_path: Path) -> None:
        KeyringCipher.for_embedded(tmp_path)
        key_file = tmp_path / EMBEDDED_KEY_FILE
        key_file.chmod(0o644)
        KeyringCipher.for_embedded(tmp_path)
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    def test_damaged_key_file_is_a_configuration_error(self, tmp_path: Path) -> None:
        (tmp_path / EMBEDDED_KEY_FILE).write_text("garbage")
        with pytest.raises(ConfigurationError, match="damaged"):
            KeyringCipher.for_embedded(tmp_path)
