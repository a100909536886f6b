"""What an uploaded file really is: not-text refused by its bytes, and the text's encoding.

The name a file carries proves nothing (a PNG renamed ``.csv`` is still a PNG), so the decision
is made on the content:

* known binary signatures (images, PDF, archives, old ``.xls``) and control bytes → not text;
* a byte order mark decides UTF-8 / UTF-16 LE / UTF-16 BE; UTF-16 without one shows as NUL
  bytes on every other position (ASCII in two-byte units);
* text that decodes as UTF-8 is UTF-8;
* otherwise a single-byte code page. Windows-1255 (Hebrew) and Windows-1252 (Western) share
  byte values, so the bytes' neighbourhood decides: Hebrew letters are 0xE0-0xFA and come in
  runs (whole words), with no letters from 0xC0-0xDF; Western accented letters sit between ASCII
  letters (``Müller``, ``café``). Anything else is left to charset-normalizer.
"""

from __future__ import annotations

import codecs
import re

import attrs
import charset_normalizer

from fitdata_core.errors import InvalidInput

__all__ = ["Encoding", "detect_encoding", "refuse_binary"]

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "a zip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old-format Excel (.xls) or Office file"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a Windows program"),
)

# Bytes no text file holds: the ASCII control codes other than tab, line feed, carriage
# return, form feed, and Ctrl-Z (which old DOS tools append).
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x19\x1b-\x1f]")
_HIGH = re.compile(rb"[\x80-\xff]")
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16-be"),
)


@attrs.frozen
class Encoding:
    """``codec`` decodes the whole file (a BOM included); ``name`` is what is reported."""

    codec: str
    name: str


def refuse_binary(head: bytes) -> None:
    """``InvalidInput`` if ``head`` (the file's first bytes) starts like a known binary format."""
    for signature, what in _SIGNATURES:
        if head.startswith(signature):
            raise InvalidInput(f"The file is {what}, not a CSV text file.", field="file")


def _utf16_without_bom(sample: bytes) -> str | None:
    # ASCII text in UTF-16 has a NUL in one byte of nearly every pair: the high byte, first in
    # big endian, second in little endian.
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even = sample[0 : pairs * 2 : 2].count(0)
    odd = sample[1 : pairs * 2 : 2].count(0)
    if odd > pairs * 0.3 and even < pairs * 0.05:
        return "utf-16-le"
    if even > pairs * 0.3 and odd < pairs * 0.05:
        return "utf-16-be"
    return None


def _decodes(sample: bytes, codec: str, *, final: bool) -> bool:
    decoder = codecs.getincrementaldecoder(codec)("strict")
    try:
        decoder.decode(sample, final)
    except UnicodeDecodeError:
        return False
    return True


_HIGH_RUN = re.compile(rb"[\x80-\xff]+")
_ASCII_LETTERS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


@attrs.frozen
class _HighBytes:
    """How the non-ASCII bytes of a sample sit (see the module docstring)."""

    runs: int
    hebrew_pairs: int
    latin_neighbours: int
    upper: int


def _high_bytes(sample: bytes) -> _HighBytes:
    runs = hebrew_pairs = latin_neighbours = upper = 0
    for run in _HIGH_RUN.finditer(sample):
        runs += 1
        text = run.group()
        upper += sum(1 for byte in text if 0xC0 <= byte < 0xE0)
        if len(text) > 1 and all(0xE0 <= byte <= 0xFA for byte in text):
            hebrew_pairs += len(text) - 1
        before = sample[run.start() - 1] if run.start() else 0
        after = sample[run.end()] if run.end() < len(sample) else 0
        if before in _ASCII_LETTERS or after in _ASCII_LETTERS:
            latin_neighbours += 1
    return _HighBytes(runs, hebrew_pairs, latin_neighbours, upper)


def looks_hebrew_1255(sample: bytes) -> bool:
    """Whether the non-ASCII bytes of ``sample`` read as Windows-1255 Hebrew words.

    Hebrew letters are 0xE0-0xFA and a Hebrew word is a run of them; 0xC0-0xDF (capitals in
    Windows-1252 and 1251) hardly occur (only as vowel points). Western text has its accented
    letters next to ASCII letters. The decision counts both patterns.
    """
    if not _decodes(sample, "cp1255", final=True):
        return False
    found = _high_bytes(sample)
    return found.hebrew_pairs > found.latin_neighbours and found.upper <= found.hebrew_pairs // 4


def _looks_western_1252(sample: bytes) -> bool:
    # Accented letters inside Latin words: at least half the non-ASCII runs touch an ASCII letter.
    if not _decodes(sample, "cp1252", final=True):
        return False
    found = _high_bytes(sample)
    return found.latin_neighbours * 2 >= found.runs


def _not_text() -> InvalidInput:
    return InvalidInput(
        "The file is not text (it holds binary bytes); upload a .csv or .xlsx file.",
        field="file",
    )


_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x19\x1b-\x1f]")


def _checked(sample: bytes, encoding: Encoding) -> Encoding:
    # A BOM or a pattern of NUL bytes can open a binary file too: the decoded start must be
    # text as well.
    text = sample[:4096].decode(encoding.codec, errors="replace")
    if _TEXT_CONTROL.search(text) is not None:
        raise _not_text()
    return encoding


def detect_encoding(sample: bytes, *, complete: bool) -> Encoding:
    """The encoding of a file whose first bytes (and, after ASCII-only starts, the region of
    its first non-ASCII byte) are ``sample``; ``complete`` when it is the whole file.

    Raises ``InvalidInput`` for content that is not text.
    """
    for bom, codec, name in _BOMS:
        if sample.startswith(bom):
            return _checked(sample, Encoding(codec, name))
    utf16 = _utf16_without_bom(sample[:4096])
    if utf16 is not None:
        return _checked(sample, Encoding(utf16, utf16))
    if _CONTROL.search(sample) is not None:
        raise _not_text()
    if _HIGH.search(sample) is None or _decodes(sample, "utf-8", final=complete):
        return Encoding("utf-8", "utf-8")
    if looks_hebrew_1255(sample):
        return Encoding("cp1255", "windows-1255")
    if _looks_western_1252(sample):
        return Encoding("cp1252", "windows-1252")
    best = charset_normalizer.from_bytes(sample).best()
    if best is not None:
        return Encoding(best.encoding, best.encoding)
    if _decodes(sample, "cp1252", final=True):
        return Encoding("cp1252", "windows-1252")
    raise InvalidInput(
        "The file's text encoding is not recognised; save it as CSV UTF-8.", field="file"
    )
