"""The name rule is one table, the same for every backend."""

from __future__ import annotations

import re

import pytest

from bucketry import UnsafeNameError
from bucketry.names import (
    MAX_NAME_BYTES,
    RESERVED_PREFIX,
    alternative_name,
    clean_name,
    clean_prefix,
    split_suffixes,
    valid_filename,
)
from bucketry_conformance import UNSAFE_NAMES


@pytest.mark.parametrize(("name", "why"), UNSAFE_NAMES, ids=[why for _, why in UNSAFE_NAMES])
def test_unsafe_names_are_rejected_not_repaired(name: str, why: str) -> None:
    with pytest.raises(UnsafeNameError):
        clean_name(name)


LONGEST = "/".join(["x" * 255] * 3 + ["x" * 254, "x"])  # 1024 bytes, no segment over 255


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("a//b", "a/b"),
        ("a///b//c.txt", "a/b/c.txt"),
        ("....//x", "..../x"),
        ("cafe\u0301.txt", "caf\u00e9.txt"),
        ("..hidden", "..hidden"),
        ("a/...", "a/..."),
        (LONGEST, LONGEST),
    ],
)
def test_harmless_ambiguities_are_normalised(given: str, canonical: str) -> None:
    assert clean_name(given) == canonical


def test_non_strings_are_unsafe() -> None:
    with pytest.raises(UnsafeNameError, match="must be a str"):
        clean_name(b"bytes.txt")


@pytest.mark.parametrize(
    ("given", "canonical"),
    [("", ""), ("a", "a/"), ("a/b/", "a/b/"), ("a//b", "a/b/")],
)
def test_prefixes_name_directories(given: str, canonical: str) -> None:
    assert clean_prefix(given) == canonical


@pytest.mark.parametrize(
    ("filename", "parts"),
    [
        ("photo.jpg", ("photo", ".jpg")),
        ("archive.tar.gz", ("archive", ".tar.gz")),
        (".env", (".env", "")),
        (".config.json", (".config", ".json")),
        ("README", ("README", "")),
    ],
)
def test_split_suffixes(filename: str, parts: tuple[str, str]) -> None:
    assert split_suffixes(filename) == parts


def test_alternative_name_is_random_and_keeps_directory_and_suffixes() -> None:
    first = alternative_name("dir/archive.tar.gz")
    assert re.fullmatch(r"dir/archive_[a-zA-Z0-9]{7}\.tar\.gz", first)
    assert len({alternative_name("dir/archive.tar.gz") for _ in range(50)}) == 50


def test_alternative_name_truncates_the_stem_to_max_length() -> None:
    name = alternative_name("dir/very-long-stem.txt", max_length=20)
    assert len(name) <= 20
    assert re.fullmatch(r"dir/very_[a-zA-Z0-9]{7}\.txt", name)
    with pytest.raises(UnsafeNameError, match="max_length"):
        alternative_name("dir/x.txt", max_length=10)


def test_valid_filename_follows_django() -> None:
    assert valid_filename("uploads/john's portrait in 2004.jpg") == (
        "uploads/johns_portrait_in_2004.jpg"
    )
    with pytest.raises(UnsafeNameError):
        valid_filename("uploads/$$$")


def test_header_metadata_round_trips_any_text() -> None:
    from bucketry.metadata import decode_header_metadata, encode_header_metadata

    values = {"a": "plain", "b": "ñandú", "c": "=?looks encoded", "d": "tab\there", "e": ""}
    encoded = encode_header_metadata(values)
    assert all(value.isascii() and value.isprintable() for value in encoded.values())
    assert encoded["a"] == "plain"
    assert decode_header_metadata(encoded) == values


def test_the_longest_name_and_segment_are_exactly_the_limits() -> None:
    assert len(LONGEST.encode()) == MAX_NAME_BYTES
    assert clean_name(LONGEST) == LONGEST
    with pytest.raises(UnsafeNameError, match="the limit is 1024"):
        clean_name(LONGEST + "x")
    assert clean_name("d/" + "é" * 127 + "x") == "d/" + "é" * 127 + "x"  # 255 bytes in UTF-8
    with pytest.raises(UnsafeNameError, match="longer than 255 bytes"):
        clean_name("d/" + "é" * 128)
    # Four-byte characters: 63 of them fit a segment (252 bytes), 64 do not (256 bytes).
    assert clean_name("d/" + "😀" * 63) == "d/" + "😀" * 63
    with pytest.raises(UnsafeNameError, match="longer than 255 bytes"):
        clean_name("d/" + "😀" * 64)


def test_the_plain_name_shortcut_agrees_with_the_full_rule() -> None:
    """``clean_name`` takes plain ASCII names by one match; for any string, what the shortcut
    accepts the full rule must accept unchanged."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from bucketry.names import _PLAIN_NAME, _normalise

    alphabet = st.sampled_from([*"ab.-_/\\ \x00é", RESERVED_PREFIX])

    @settings(max_examples=3000, deadline=None)
    @given(st.lists(alphabet, max_size=12).map("".join) | st.text(max_size=300))
    def agrees(name: str) -> None:
        if len(name) <= 255 and _PLAIN_NAME.fullmatch(name):
            assert _normalise(name, "name") == name
            assert name
            assert not name.endswith("/")

    agrees()
