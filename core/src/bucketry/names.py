"""One rule for file names, applied by the core before any backend sees a name.

A name is a relative, ``/``-separated path. Names that could escape a storage root or mean
different things on different backends are rejected with :class:`UnsafeNameError`; they are
never "repaired" (stripping ``..`` from ``"....//x"`` gives ``"//x"``, which is how the reference
design let absolute paths through). The few ambiguities that are harmless are normalised the same
way everywhere: runs of ``/`` collapse, and unicode is put in NFC form, so ``"é"`` typed either
way names one file.
"""

from __future__ import annotations

import re
import secrets
import string
import unicodedata

from bucketry.errors import UnsafeNameError

__all__ = [
    "MAX_NAME_BYTES",
    "MAX_SEGMENT_BYTES",
    "RESERVED_PREFIX",
    "alternative_name",
    "clean_name",
    "clean_prefix",
    "split_suffixes",
    "valid_filename",
]

MAX_NAME_BYTES = 1024
"""Longest name, in UTF-8 bytes, that every supported backend stores (S3's key limit)."""

MAX_SEGMENT_BYTES = 255
"""Longest segment (between ``/``), in UTF-8 bytes: what common local file systems (ext4, XFS,
APFS, NTFS in UTF-16 units) take for one file or directory name. Object stores would take more,
but a name that one backend cannot store is not portable, so every backend refuses it."""

RESERVED_PREFIX = ".bucketry-tmp-"
"""Segments starting with this are refused on every backend: the filesystem backend names its
temp files so, and a name valid on one backend must be valid on all."""

_RANDOM_ALPHABET = string.ascii_letters + string.digits
_SLASH_RUNS = re.compile(r"/{2,}")


_REFUSED_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")
"""A backslash or a control character (Unicode category Cc: C0, DEL and C1)."""


def _check_characters(name: str) -> None:
    found = _REFUSED_CHARACTER.search(name)
    if found is None:
        return
    char = found.group()
    if char == "\\":
        raise UnsafeNameError(
            f"Name {name!r} contains a backslash; use '/' to separate directories."
        )
    raise UnsafeNameError(f"Name {name!r} contains the control character {char!r}; remove it.")


def _normalise(name: object, what: str) -> str:
    if not isinstance(name, str):
        raise UnsafeNameError(f"A {what} must be a str, not {type(name).__name__}.")
    _check_characters(name)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafeNameError(
            f"{what.capitalize()} {name!r} is not valid unicode (it has lone surrogates)."
        ) from None
    name = unicodedata.normalize("NFC", name)
    if name.startswith("/"):
        raise UnsafeNameError(
            f"{what.capitalize()} {name!r} is absolute; names are relative to the storage root."
        )
    if "//" in name:
        name = _SLASH_RUNS.sub("/", name)
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise UnsafeNameError(
            f"{what.capitalize()} is {size} bytes long in UTF-8; the limit is {MAX_NAME_BYTES}."
        )
    for segment in name.split("/"):
        if segment in (".", ".."):
            raise UnsafeNameError(
                f"{what.capitalize()} {name!r} has a {segment!r} segment; "
                "name the file without relative path segments."
            )
        if segment.startswith(RESERVED_PREFIX):
            raise UnsafeNameError(
                f"Names starting with {RESERVED_PREFIX!r} are reserved: {name!r}."
            )
        if len(segment) * 4 > MAX_SEGMENT_BYTES and len(segment.encode()) > MAX_SEGMENT_BYTES:
            raise UnsafeNameError(
                f"{what.capitalize()} {name!r} has a segment longer than {MAX_SEGMENT_BYTES} "
                f"bytes, which file systems refuse: {segment[:40]!r}...; use a shorter name."
            )
    return name


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*")
"""Names made of ASCII letters, digits, ``_``, ``-`` and ``.``, no segment starting with a dot:
nothing in them can be refused or normalised (no ``.``/``..`` segment, no reserved prefix, no
empty segment, ASCII is its own NFC), so short ones are canonical as they are."""


def clean_name(name: object) -> str:
    """Return the canonical form of a file name, or raise :class:`UnsafeNameError`.

    Rejected: non-strings, the empty name, absolute paths, ``.`` and ``..`` segments, backslashes,
    control characters (NUL included), names ending in ``/`` (those are directories), names over
    :data:`MAX_NAME_BYTES`, segments over :data:`MAX_SEGMENT_BYTES` and segments starting with
    :data:`RESERVED_PREFIX`. Normalised: ``//`` runs collapse to ``/``; unicode becomes NFC.
    """
    # Every name a save, a read and a listed entry passes through here: the common plain names
    # are recognised by one match instead of the full rule.
    if type(name) is str and len(name) <= MAX_SEGMENT_BYTES and _PLAIN_NAME.fullmatch(name):
        return name
    cleaned = _normalise(name, "name")
    if not cleaned:
        raise UnsafeNameError("A file name must not be empty.")
    if cleaned.endswith("/"):
        raise UnsafeNameError(
            f"Name {cleaned!r} ends with '/', which names a directory, not a file."
        )
    return cleaned


def clean_prefix(prefix: object) -> str:
    """Return a directory prefix in canonical form: ``""`` for the root, else ending in ``/``.

    Listing ``"a/b"`` and ``"a/b/"`` mean the same directory, and neither matches ``"a/b_c/x"``:
    prefix boundaries are exact on every backend.
    """
    cleaned = _normalise(prefix, "prefix")
    if cleaned and not cleaned.endswith("/"):
        cleaned += "/"
    return cleaned


def split_suffixes(filename: str) -> tuple[str, str]:
    """Split ``"archive.tar.gz"`` into ``("archive", ".tar.gz")``, as Django does.

    A leading dot is part of the stem, so ``".env"`` has no suffix.
    """
    head, dot, _ = filename.lstrip(".").partition(".")
    if not dot:
        return filename, ""
    stem_length = len(filename) - len(filename.lstrip(".")) + len(head)
    return filename[:stem_length], filename[stem_length:]


def alternative_name(name: str, max_length: int | None = None) -> str:
    """Return ``dir/stem_<7 random [a-zA-Z0-9]>.ext`` for a name that is taken.

    Random suffixes (Django's rule since 1.7) cost an attacker as much as anyone to collide with;
    counting ``_1``, ``_2``… lets one upload force thousands of look-ups on the next. With
    ``max_length`` the stem is truncated so the result fits, and a name that cannot fit raises
    :class:`UnsafeNameError`.
    """
    directory, _, filename = name.rpartition("/")
    stem, suffix = split_suffixes(filename)
    token = "_" + "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(7))
    candidate = _join(directory, stem + token + suffix)
    if max_length is not None and len(candidate) > max_length:
        excess = len(candidate) - max_length
        stem = stem[:-excess] if excess < len(stem) else ""
        if not stem:
            raise UnsafeNameError(
                f"Storage can not find an available name for {name!r} within max_length="
                f"{max_length}; allow a longer name or shorten the directory or extension."
            )
        candidate = _join(directory, stem + token + suffix)
    return candidate


def valid_filename(name: str) -> str:
    """Django's ``get_valid_filename`` applied to the last segment of a name.

    Spaces become underscores and anything but letters, digits, ``-``, ``_`` and ``.`` is dropped,
    which makes an untrusted upload filename boring. Directories in ``name`` are kept as they are.
    """
    directory, _, filename = clean_name(name).rpartition("/")
    filename = re.sub(r"(?u)[^-\w.]", "", filename.strip().replace(" ", "_"))
    if filename in {"", ".", ".."}:
        raise UnsafeNameError(f"Could not derive a valid file name from {name!r}.")
    return _join(directory, filename)


def _join(directory: str, filename: str) -> str:
    return f"{directory}/{filename}" if directory else filename
