"""Operator-facing messages name what is wrong: a cron field out of range."""

import pytest

from blockpost.errors import InvalidInput
from blockpost.scheduler.definition import check_cron


@pytest.mark.parametrize(
    ("at", "named"),
    [
        ("61 * * * *", "the minute field '61' is out of range or malformed (minute is 0-59)"),
        ("0 24 * * *", "the hour field '24'"),
        ("0 3 0 * *", "the day of month field '0'"),
        ("0 3 * 13 *", "the month field '13'"),
        ("0 3 * * 9", "the day of week field '9'"),
        ("0-75 3 * * *", "the minute field '0-75'"),
    ],
)
def test_a_cron_field_out_of_range_is_named(at: str, named: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_cron(at)
    assert f"spec.at: {at!r}: {named}" in raised.value.message


def test_a_cron_of_four_fields_says_five_are_needed() -> None:
    with pytest.raises(InvalidInput, match="5 fields"):
        check_cron("0 3 * *")


def test_valid_crons_pass() -> None:
    for at in ("*/5 * * * *", "0 3 * * MON-FRI", "0 0 1 JAN *", "59 23 31 12 6"):
        check_cron(at)
