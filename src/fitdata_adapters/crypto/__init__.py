"""Credential encryption at rest."""

from fitdata_adapters.crypto.keyring import KeyringCipher

__all__ = ["KeyringCipher"]
