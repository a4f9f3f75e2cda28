"""Every timestamp format of the Semaphore API, from one helper."""

from datetime import UTC, datetime, timedelta, timezone

from blockpost import timefmt

MOMENT = datetime(2019, 10, 14, 12, 11, 47, 824128, tzinfo=UTC)


def test_each_format_matches_the_reference_examples() -> None:
    assert timefmt.epoch_str(MOMENT) == "1571055107"
    assert timefmt.epoch_int(MOMENT) == 1571055107
    assert timefmt.seconds_nanos(MOMENT) == {"seconds": 1571055107, "nanos": 824128000}
    assert timefmt.custom(MOMENT) == "2019-10-14 12:11:47.824128Z"
    assert timefmt.iso_micros(MOMENT) == "2019-10-14T12:11:47.824128Z"
    assert timefmt.iso_seconds(MOMENT) == "2019-10-14T12:11:47Z"
    assert timefmt.epoch_micros(MOMENT) == 1571055107824128


def test_blank_times_render_as_the_reference_shows_them() -> None:
    assert timefmt.custom(None) == "1970-01-01 00:00:00.000000Z"
    assert timefmt.seconds_nanos(None) == {"seconds": 0, "nanos": 0}
    assert timefmt.epoch_str(None) is None
    assert timefmt.iso_micros(None) is None


def test_other_time_zones_are_converted_to_utc() -> None:
    plus_two = MOMENT.astimezone(timezone(timedelta(hours=2)))
    assert timefmt.custom(plus_two) == "2019-10-14 12:11:47.824128Z"
    assert timefmt.from_epoch(1571055107) == MOMENT.replace(microsecond=0)
