"""Secrets blockpost hands out: tokens safe on a command line, passwords hashed."""

from blockpost.cli import _parser
from blockpost.security import hash_password, new_token, token_hash, verify_password


def test_tokens_are_hex_and_always_parse_as_a_command_line_value() -> None:
    parser = _parser()
    for _ in range(500):
        token = new_token()
        assert len(token) == 64
        int(token, 16)
        args = parser.parse_args(["agent", "--url", "http://x", "--token", token])
        assert args.token == token


def test_tokens_are_stored_as_distinct_sha256_digests() -> None:
    first, second = new_token(), new_token()
    assert first != second
    assert len(token_hash(first)) == 64
    assert token_hash(first) != token_hash(second)


def test_passwords_verify_only_against_their_hash() -> None:
    stored = hash_password("correct-horse")
    assert verify_password(stored, "correct-horse")
    assert not verify_password(stored, "wrong-horse")
    assert not verify_password(None, "correct-horse")
    assert not verify_password("not-a-hash", "correct-horse")
