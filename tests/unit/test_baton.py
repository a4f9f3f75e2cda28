"""The per-agent-type hand-off of queued jobs to waiting agents."""

from __future__ import annotations

import time

import pytest

from blockpost.dispatch.wakeup import Baton, Wakeups, jobs_notification


def test_one_announced_job_wakes_one_waiting_agent_oldest_first() -> None:
    baton = Baton()
    first, second, third = baton.join(), baton.join(), baton.join()
    baton.fire(1)
    assert [first.is_set(), second.is_set(), third.is_set()] == [True, False, False]
    baton.fire(2)
    assert second.is_set()
    assert third.is_set()


def test_a_wake_up_for_an_agent_that_leaves_without_looking_goes_to_the_next() -> None:
    baton = Baton()
    busy, idle = baton.join(), baton.join()
    baton.fire(1)  # arrives while `busy` was answering with another job
    baton.leave(busy, looked=False)
    assert idle.is_set()


def test_a_woken_agent_that_looks_passes_nothing_on() -> None:
    baton = Baton()
    woken, other = baton.join(), baton.join()
    baton.fire(1)
    baton.leave(woken, looked=True)
    assert not other.is_set()


def test_leaving_unwoken_frees_the_place() -> None:
    baton = Baton()
    gone, staying = baton.join(), baton.join()
    baton.leave(gone, looked=False)
    baton.fire(1)
    assert staying.is_set()
    assert not gone.is_set()


def test_an_empty_queue_is_remembered_until_a_job_is_announced() -> None:
    baton = Baton()
    assert not baton.queue_empty()
    baton.found_empty(baton.seen())
    assert baton.queue_empty()
    baton.fire(1)
    assert not baton.queue_empty()


def test_an_announcement_during_a_claim_keeps_the_queue_unknown() -> None:
    baton = Baton()
    seen = baton.seen()  # the claim starts
    baton.fire(1)  # a job is committed and announced meanwhile
    baton.found_empty(seen)  # the claim's snapshot missed it
    assert not baton.queue_empty()


def test_an_empty_queue_is_trusted_only_for_a_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    baton = Baton()
    baton.found_empty(baton.seen())
    later = time.monotonic() + Baton.EMPTY_TRUST_SECONDS + 1
    monkeypatch.setattr("blockpost.dispatch.wakeup.time.monotonic", lambda: later)
    assert not baton.queue_empty()


def test_notifications_carry_how_many_jobs_were_queued() -> None:
    wakeups = Wakeups()
    baton = wakeups.for_type("s1-x")
    waiting = [baton.join() for _ in range(3)]
    wakeups.on_notification("blockpost_jobs", "s1-x 2")
    assert [t.is_set() for t in waiting] == [True, True, False]
    wakeups.on_notification("blockpost_jobs", "s1-x")
    assert waiting[2].is_set()


def test_a_container_job_wakes_the_oldest_agent_that_can_run_containers() -> None:
    baton = Baton()
    plain, capable, other = baton.join(containers=False), baton.join(), baton.join()
    baton.fire(1, containers=True)
    assert [plain.is_set(), capable.is_set(), other.is_set()] == [False, True, False]
    baton.fire(1)  # any agent may run this one: the oldest waiter gets it
    assert plain.is_set()


def test_a_container_job_with_no_capable_agent_waiting_wakes_no_one() -> None:
    baton = Baton()
    plain = baton.join(containers=False)
    baton.fire(1, containers=True)
    assert not plain.is_set()


def test_a_container_wake_up_passed_on_goes_to_an_agent_that_can_run_containers() -> None:
    baton = Baton()
    busy, plain, capable = baton.join(), baton.join(containers=False), baton.join()
    baton.fire(1, containers=True)
    baton.leave(busy, looked=False)
    assert not plain.is_set()
    assert capable.is_set()


def test_an_agent_without_containers_finding_nothing_hides_no_container_job() -> None:
    baton = Baton()
    baton.fire(1, containers=True)  # a container job waits
    baton.found_empty(baton.seen(), containers=False)
    assert baton.queue_empty(containers=False)
    assert not baton.queue_empty(containers=True)
    baton.fire(1, containers=True)  # another container job: still nothing for the first
    assert baton.queue_empty(containers=False)
    baton.fire(1)
    assert not baton.queue_empty(containers=False)


def test_a_capable_agent_finding_nothing_means_nothing_waits_for_anyone() -> None:
    baton = Baton()
    baton.found_empty(baton.seen(), containers=True)
    assert baton.queue_empty(containers=True)
    assert baton.queue_empty(containers=False)


def test_notifications_say_when_the_jobs_need_containers() -> None:
    wakeups = Wakeups()
    baton = wakeups.for_type("s1-x")
    plain, capable = baton.join(containers=False), baton.join()
    wakeups.on_notification("blockpost_jobs", jobs_notification("s1-x", 1, containers=True))
    assert (plain.is_set(), capable.is_set()) == (False, True)


def test_a_process_ignores_the_echo_of_its_own_notifications() -> None:
    here, there = Wakeups(), Wakeups()
    waiting = [here.for_type("s1-x").join() for _ in range(2)]
    payload = jobs_notification("s1-x", 1, containers=False)
    here.on_notification("blockpost_jobs", here.stamped(payload))  # woken once committed
    assert not any(t.is_set() for t in waiting)
    here.on_notification("blockpost_jobs", there.stamped(payload))
    assert [t.is_set() for t in waiting] == [True, False]
