"""Hashes: the kind follows from the length (32, 40, 64 hex digits); canonical is lower-case."""

from __future__ import annotations

import pytest

from trapline.indicators import InvalidIndicator, Kind, detect_kind, normalize

MD5 = "C1153422C5F68E731347F6A33F791598"
SHA1 = "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"
SHA256 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"


@pytest.mark.parametrize(
    ("value", "kind"), [(MD5, Kind.MD5), (SHA1, Kind.SHA1), (SHA256, Kind.SHA256)]
)
def test_hash_kind_by_length_and_lower_case(value: str, kind: Kind) -> None:
    assert normalize(value) == (kind, value.lower())
    assert normalize(value.lower()) == (kind, value.lower())
    assert normalize(value, kind) == (kind, value.lower())
    assert normalize(value, kind.value) == (kind, value.lower())


def test_spec_example() -> None:
    assert normalize("C1153422C5F68E731347F6A33F791598") == (
        Kind.MD5,
        "c1153422c5f68e731347f6a33f791598",
    )


def test_mixed_case_is_one_hash() -> None:
    mixed = "".join(c.upper() if i % 2 else c for i, c in enumerate(SHA1.lower()))
    assert normalize(mixed) == normalize(SHA1)


def test_surrounding_whitespace_is_ignored() -> None:
    assert normalize(f"  {MD5}\t") == (Kind.MD5, MD5.lower())


@pytest.mark.parametrize(
    "value",
    [
        MD5[:-1],  # 31 digits
        MD5 + "0",  # 33 digits
        SHA256 + "0",  # 65 digits
        "g" * 32,
    ],
)
def test_not_a_hash(value: str) -> None:
    assert detect_kind(value) not in (Kind.MD5, Kind.SHA1, Kind.SHA256)


@pytest.mark.parametrize(
    ("value", "kind"),
    [(MD5, Kind.SHA1), (SHA1, Kind.MD5), (SHA256, Kind.MD5), ("zz" * 16, Kind.MD5)],
)
def test_wrong_requested_hash_kind_is_refused(value: str, kind: Kind) -> None:
    with pytest.raises(InvalidIndicator):
        normalize(value, kind)
