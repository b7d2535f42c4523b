"""Two-gate stability and the roles' rules, on an injected clock (no sleeping)."""

from __future__ import annotations

import pytest

from kiosk.events import ScaleRole, WeightReading
from kiosk.peripherals.scale.reading import Frame, FrameKind, Status
from kiosk.peripherals.scale.stability import StabilityWindow
from kiosk.peripherals.scale.weigher import Weigher


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 0.1) -> None:
        self.now += seconds


def ok(grams: int | None) -> Frame:
    return Frame(FrameKind.READING, Status.OK, grams)


def moving(grams: int | None) -> Frame:
    return Frame(FrameKind.READING, Status.MOTION, grams, motion=True)


# -- StabilityWindow -------------------------------------------------------------------------

def test_needs_n_readings_and_the_minimum_time() -> None:
    clock = Clock()
    window = StabilityWindow(5, 0.3, min_readings=3, clock=clock)
    results = []
    for _ in range(5):
        results.append(window.update(500))
        clock.tick(0.1)
    assert results == [False, False, False, True, True]  # 3 readings, then 0.3 s from the first


def test_many_fast_readings_still_wait_for_the_time() -> None:
    clock = Clock()
    window = StabilityWindow(5, 0.3, min_readings=3, clock=clock)
    assert not any(window.update(500) for _ in range(50))
    clock.tick(0.3)
    assert window.update(500)


def test_readings_within_one_division_count_as_one_run() -> None:
    clock = Clock()
    window = StabilityWindow(5, 0.2, min_readings=3, clock=clock)
    for grams in (500, 505, 500, 503):
        settled = window.update(grams)
        clock.tick(0.1)
    assert settled


def test_a_jump_beyond_a_division_restarts_the_run() -> None:
    clock = Clock()
    window = StabilityWindow(5, 0.2, min_readings=3, clock=clock)
    for _ in range(4):
        window.update(500)
        clock.tick(0.1)
    assert window.settled
    assert not window.update(506)
    clock.tick(0.1)
    assert not window.update(506)  # only 2 readings since the jump


def test_drift_keeps_only_the_readings_within_a_division() -> None:
    clock = Clock()
    window = StabilityWindow(5, 0.2, min_readings=3, clock=clock)
    results = []
    for grams in range(500, 560, 4):  # creeping by 4 g a reading: never settled
        results.append(window.update(grams))
        clock.tick(0.1)
    assert not any(results)


def test_none_ends_the_run() -> None:
    clock = Clock()
    window = StabilityWindow(5, 0.0, min_readings=2, clock=clock)
    window.update(100)
    window.update(None)
    assert not window.update(100)
    assert window.update(100)


def test_memory_stays_bounded_while_stable() -> None:
    clock = Clock()
    window = StabilityWindow(5, 0.3, min_readings=3, clock=clock)
    for _ in range(10_000):
        window.update(500)
        clock.tick(0.1)
    assert window.settled and len(window._run) <= 5


def test_fractional_division_from_config() -> None:
    from decimal import Decimal
    clock = Clock()
    window = StabilityWindow(Decimal("0.5"), 0.0, min_readings=2, clock=clock)
    window.update(100)
    assert not window.update(101)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        StabilityWindow(5, 0.3, min_readings=0)
    with pytest.raises(ValueError):
        StabilityWindow(-1, 0.3)


# -- Weigher ---------------------------------------------------------------------------------

def weigher(role: ScaleRole = ScaleRole.PRODUCE, clock: Clock | None = None) -> Weigher:
    return Weigher(role, capacity_g=15_000, division_g=5, stable_window_s=0.2, min_readings=3,
                   clock=clock or Clock())


def settle(w: Weigher, clock: Clock, frame: Frame, times: int = 4) -> WeightReading | None:
    reading = None
    for _ in range(times):
        reading = w.accept(frame)
        clock.tick(0.1)
    return reading


@pytest.mark.parametrize("role", list(ScaleRole))
def test_stable_weight_after_both_gates(role: ScaleRole) -> None:
    clock = Clock()
    w = weigher(role, clock)
    assert w.accept(ok(512)) == WeightReading(role, 512, False, "ok")
    assert settle(w, clock, ok(512)) == WeightReading(role, 512, True, "ok")


def test_motion_flag_blocks_stability_even_with_a_steady_weight() -> None:
    clock = Clock()
    w = weigher(clock=clock)
    assert settle(w, clock, moving(512), times=20) == WeightReading(ScaleRole.PRODUCE, 512, False, "motion")
    # and the window starts again once the scale is still
    assert w.accept(ok(512)).stable is False  # type: ignore[union-attr]


@pytest.mark.parametrize(("frame", "status"), [
    (Frame(FrameKind.READING, Status.OVER_CAPACITY), "over_capacity"),
    (Frame(FrameKind.READING, Status.UNDER_ZERO), "under_zero"),
    (Frame(FrameKind.READING, Status.ZERO_ERROR), "zero_error"),
    (Frame(FrameKind.READING, Status.ERROR), "error"),
    (Frame.garbled("x"), "error"),
    (Frame(FrameKind.REJECTED), "error"),
    (ok(15_001), "over_capacity"),  # beyond the configured capacity
])
def test_invalid_frames_give_no_weight_and_reset_the_window(frame: Frame, status: str) -> None:
    clock = Clock()
    w = weigher(clock=clock)
    settle(w, clock, ok(500))
    assert w.accept(frame) == WeightReading(ScaleRole.PRODUCE, None, False, status)
    assert w.accept(ok(500)).stable is False  # type: ignore[union-attr]


def test_acks_say_nothing() -> None:
    assert weigher().accept(Frame(FrameKind.ACK, Status.OK, tag="Z A")) is None


def test_bare_status_repeats_the_last_weight_only_when_one_was_seen() -> None:
    clock = Clock()
    w = weigher(clock=clock)
    assert w.accept(ok(None)) is None  # nothing seen yet: nothing to say
    w.accept(ok(700))
    clock.tick(0.1)
    assert settle(w, clock, ok(None)) == WeightReading(ScaleRole.PRODUCE, 700, True, "ok")
    w.forget()  # after a zero/tare command or a reconnect
    assert w.accept(ok(None)) is None


def test_bare_motion_status_forgets_the_last_weight() -> None:
    clock = Clock()
    w = weigher(clock=clock)
    w.accept(ok(700))
    assert w.accept(moving(None)) == WeightReading(ScaleRole.PRODUCE, None, False, "motion")
    assert w.accept(ok(None)) is None


def test_silence_is_no_answer() -> None:
    clock = Clock()
    w = weigher(clock=clock)
    settle(w, clock, ok(300))
    assert w.silence() == WeightReading(ScaleRole.PRODUCE, None, False, "no_answer")
    assert w.accept(ok(300)).stable is False  # type: ignore[union-attr]


def test_produce_scale_never_zeroes_in_software() -> None:
    with pytest.raises(PermissionError):
        weigher(ScaleRole.PRODUCE).zero_in_software()


def test_bagging_scale_software_zero() -> None:
    clock = Clock()
    w = weigher(ScaleRole.BAGGING, clock)
    assert not w.zero_in_software()  # nothing settled yet
    settle(w, clock, ok(40))  # an empty bag left on the platter
    assert w.zero_in_software()
    assert w.software_zero_g == 40
    assert settle(w, clock, ok(540)) == WeightReading(ScaleRole.BAGGING, 500, True, "ok")
    assert w.accept(ok(20)) == WeightReading(ScaleRole.BAGGING, None, False, "under_zero")
