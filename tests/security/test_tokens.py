"""API tokens: shape, digest, constant-time comparison."""

from __future__ import annotations

import hashlib

from trapline.security.tokens import (
    digests_equal,
    looks_like_token,
    new_token,
    token_digest,
    verify_token,
)


def test_a_new_token_has_its_prefix_and_its_digest() -> None:
    text, digest = new_token()
    assert text.startswith("tl_") and len(text) == 46
    assert looks_like_token(text)
    assert digest == hashlib.sha256(text.encode()).hexdigest() == token_digest(text)
    assert text not in digest


def test_tokens_are_unique() -> None:
    assert len({new_token()[0] for _ in range(1000)}) == 1000


def test_verify_token_needs_the_exact_text() -> None:
    text, digest = new_token()
    assert verify_token(text, digest)
    other, _ = new_token()
    assert not verify_token(other, digest)
    assert not verify_token(text[:-1], digest)
    assert not verify_token(text + "A", digest)
    assert not verify_token(text.upper(), digest)
    assert not verify_token("", digest)


def test_looks_like_token_refuses_other_shapes() -> None:
    text, _ = new_token()
    for bad in ("", "tl_", "xx_" + text[3:], text + "=", text[:-1] + "!", " " + text, None, 7):
        assert not looks_like_token(bad)  # type: ignore[arg-type]


def test_digests_equal_compares_whole_strings() -> None:
    digest = token_digest("tl_x")
    assert digests_equal(digest, digest)
    assert not digests_equal(digest, digest[:-1] + ("0" if digest[-1] != "0" else "1"))
    assert not digests_equal(digest, "")
    assert not digests_equal("é", "ü")  # non-ASCII is compared, not replaced
