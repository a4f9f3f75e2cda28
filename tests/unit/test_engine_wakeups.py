"""The engine's wake-ups name the pipelines that changed, here and from other replicas."""

from __future__ import annotations

from blockpost.dispatch.wakeup import ENGINE_CHANNEL, ENGINE_POKES_KEPT, Wakeups


def test_the_engine_hears_which_pipelines_were_poked_once() -> None:
    wakeups = Wakeups()
    assert wakeups.engine_changes() is None  # a new engine looks at every pipeline
    ticket = wakeups.engine.ticket()
    wakeups.engine_poked("p1")
    wakeups.engine_poked("p2")
    wakeups.engine_poked("p1")
    assert ticket.is_set()
    assert wakeups.engine_changes() == {"p1", "p2"}
    assert wakeups.engine_changes() == set()


def test_a_poke_without_a_pipeline_means_any_may_have_changed() -> None:
    wakeups = Wakeups()
    wakeups.engine_changes()
    wakeups.engine_poked("p1")
    wakeups.engine_poked()
    wakeups.engine_poked("p2")
    assert wakeups.engine_changes() is None


def test_another_replicas_notification_names_its_pipeline_and_our_own_echo_is_ignored() -> None:
    here, there = Wakeups(), Wakeups()
    here.engine_changes()
    here.on_notification(ENGINE_CHANNEL, there.stamped("p9"))
    here.on_notification(ENGINE_CHANNEL, here.stamped("p8"))
    assert here.engine_changes() == {"p9"}


def test_pokes_nobody_takes_are_not_kept_without_bound() -> None:
    wakeups = Wakeups()
    wakeups.engine_changes()
    for n in range(ENGINE_POKES_KEPT + 5):
        wakeups.engine_poked(f"p{n}")
    assert wakeups.engine_changes() is None
