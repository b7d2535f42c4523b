"""End to end through a pseudo-terminal: the simulator on the master, pyserial and ``Scale`` on
the slave, for every protocol. Waits are on events with time-outs, never fixed sleeps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk.config import ScaleSection
from kiosk.errors import DeviceError
from kiosk.events import DeviceState, ScaleRole, WeightReading
from kiosk.peripherals.scale import PROTOCOLS, Command, Scale, ScaleSimulator, open_scale
from tests.support import EventLog

NAMES = sorted(PROTOCOLS)
FAST = dict(poll_interval_s=0.02, stable_window_s=0.05, min_readings=3, reply_timeout_s=0.25,
            backoff_initial_s=0.02, backoff_max_s=0.1)


class Events(EventLog):
    """The core's queue, as seen by a test."""


    def mark(self) -> int:
        with self._cond:
            return len(self.items)

    def wait_for(self, test: Callable[[object], bool], since: int = 0, timeout: float = 5.0) -> object:
        found: list[object] = []

        def seen() -> bool:
            found[:] = [e for e in self.items[since:] if test(e)]
            return bool(found)

        with self._cond:
            if not self._cond.wait_for(seen, timeout):
                raise AssertionError(f"not seen in {timeout} s; last events: {self.items[-8:]}")
        return found[0]

    def wait_readings(self, count: int, since: int = 0, timeout: float = 5.0) -> list[WeightReading]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.readings(since)) >= count, timeout):
                raise AssertionError(f"fewer than {count} readings in {timeout} s")
            return self.readings(since)

    def readings(self, since: int = 0) -> list[WeightReading]:
        with self._cond:
            return [e for e in self.items[since:] if isinstance(e, WeightReading)]


def stable(grams: int) -> Callable[[object], bool]:
    return lambda e: isinstance(e, WeightReading) and e.stable and e.weight_g == grams


def state(st: str, reason: str = "") -> Callable[[object], bool]:
    return lambda e: isinstance(e, DeviceState) and e.state == st and e.reason == reason


def status(name: str) -> Callable[[object], bool]:
    return lambda e: isinstance(e, WeightReading) and e.status == name


@pytest.fixture(params=NAMES)
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sim(protocol: str, tmp_path: Path) -> Iterator[ScaleSimulator]:
    with ScaleSimulator(protocol, link=tmp_path / "kiosk-scale", weight_g=512,
                        stream_interval_s=0.02, seed=1) as simulator:
        yield simulator


@pytest.fixture
def events() -> Events:
    return Events()


def make_scale(sim: ScaleSimulator, events: Events, role: ScaleRole = ScaleRole.PRODUCE, **kw: object) -> Scale:
    options: dict[str, object] = dict(FAST)
    options.update(kw)
    return Scale(role, sim.protocol, sim.path, events, **options)  # type: ignore[arg-type]


def test_reads_a_stable_weight(sim: ScaleSimulator, events: Events) -> None:
    with make_scale(sim, events) as scale:
        events.wait_for(stable(512))
        assert events.items[0] == DeviceState("scale", "ok", "")
        assert scale.reading == WeightReading(ScaleRole.PRODUCE, 512, True, "ok")
        assert scale.health == ("ok", "")
        mark = events.mark()
        sim.place(1250)
        events.wait_for(stable(1250), mark)
    if not sim.protocol.continuous:
        assert set(sim.requests) == {sim.protocol.request(Command.WEIGH).strip().decode()}  # type: ignore[union-attr]


def test_motion_is_never_stable(sim: ScaleSimulator, events: Events) -> None:
    sim.set_motion(True)
    sim.place(800)
    with make_scale(sim, events, changes_only=False):
        events.wait_for(status("motion"))
        events.wait_readings(10, events.mark())
        assert not any(r.stable for r in events.readings())
        mark = events.mark()
        sim.set_motion(False)
        events.wait_for(stable(800), mark)


def test_noise_within_a_division_settles_beyond_it_does_not(sim: ScaleSimulator, events: Events) -> None:
    sim.set_noise(2)
    with make_scale(sim, events, division_g=5):
        reading = events.wait_for(lambda e: isinstance(e, WeightReading) and e.stable)
        assert isinstance(reading, WeightReading) and abs(reading.weight_g - 512) <= 2  # type: ignore[operator]
    sim.set_noise(60)
    noisy = Events()
    with make_scale(sim, noisy, division_g=5, changes_only=False):
        assert not any(r.stable for r in noisy.wait_readings(10))


@pytest.mark.parametrize(("trouble", "expected"), [("over", "over_capacity"), ("under", "under_zero")])
def test_overweight_and_negative_are_never_weights(sim: ScaleSimulator, events: Events,
                                                   trouble: str, expected: str) -> None:
    with make_scale(sim, events) as scale:
        events.wait_for(stable(512))
        mark = events.mark()
        if trouble == "over":
            sim.set_over_capacity(True)
        else:
            sim.place(-40)
        events.wait_for(status(expected), mark)
        assert scale.reading == WeightReading(ScaleRole.PRODUCE, None, False, expected)


@pytest.mark.parametrize("protocol", ["sma"])  # protocol-independent
def test_capacity_from_config_is_enforced_too(sim: ScaleSimulator, events: Events) -> None:
    with make_scale(sim, events, capacity_g=500):
        events.wait_for(status("over_capacity"))
        assert not any(r.stable for r in events.readings())


def test_zero_and_tare_with_the_scales_own_commands(sim: ScaleSimulator, events: Events) -> None:
    if sim.protocol.continuous:
        pytest.skip("covered by test_continuous_scale_has_no_commands")
    sim.place(100)  # within the zero capture range
    with make_scale(sim, events) as scale:
        events.wait_for(stable(100))
        mark = events.mark()
        assert scale.zero().result(timeout=5) is True
        events.wait_for(stable(0), mark)
        sim.place(1100)  # a 1 kg bowl
        events.wait_for(stable(1000), mark)
        mark = events.mark()
        assert scale.tare().result(timeout=5) is True
        events.wait_for(stable(0), mark)
        sim.place(1600)
        events.wait_for(stable(500), mark)  # the net weight, as the scale itself computes it
        assert scale.zero().result(timeout=5) is False  # refused: loaded and in net mode
        mark = events.mark()
        assert scale.clear_tare().result(timeout=5) is True
        events.wait_for(stable(1500), mark)


def test_tare_refused_while_moving(sim: ScaleSimulator, events: Events) -> None:
    if sim.protocol.continuous:
        pytest.skip("no commands")
    with make_scale(sim, events) as scale:
        events.wait_for(stable(512))
        sim.set_motion(True)
        assert scale.tare().result(timeout=5) is False


def test_continuous_scale_has_no_commands(events: Events, tmp_path: Path) -> None:
    with ScaleSimulator("cas", link=tmp_path / "cas", weight_g=40, stream_interval_s=0.02) as sim:
        with make_scale(sim, events) as produce:
            with pytest.raises(DeviceError):
                produce.zero()
            with pytest.raises(DeviceError):
                produce.tare()
        bag_events = Events()
        with make_scale(sim, bag_events, ScaleRole.BAGGING) as bagging:
            bag_events.wait_for(stable(40))
            assert bagging.zero().result(timeout=1) is True  # software zero, bagging only
            sim.place(540)
            bag_events.wait_for(stable(500))


def test_unplug_then_reconnect(sim: ScaleSimulator, events: Events) -> None:
    with make_scale(sim, events) as scale:
        events.wait_for(stable(512))
        mark = events.mark()
        sim.disconnect()  # closes the pty master: the kiosk's next read or write fails
        events.wait_for(state("fault", "unplugged"), mark)
        events.wait_for(status("no_answer"), mark)
        assert scale.reading == WeightReading(ScaleRole.PRODUCE, None, False, "no_answer")
        assert not Path(sim.path).exists()
        mark = events.mark()
        sim.place(700)
        sim.reconnect()  # a new pty behind the same symlink
        events.wait_for(state("ok"), mark)
        events.wait_for(stable(700), mark)
        # while unplugged the fault was posted once, not once per retry
        faults = [e for e in events.items if isinstance(e, DeviceState) and e.state == "fault"]
        assert len(faults) == 1


def test_command_while_unplugged_fails_cleanly(sim: ScaleSimulator, events: Events) -> None:
    if sim.protocol.continuous:
        pytest.skip("no commands")
    with make_scale(sim, events) as scale:
        events.wait_for(stable(512))
        sim.disconnect()
        events.wait_for(state("fault", "unplugged"))
        with pytest.raises(DeviceError):
            scale.tare().result(timeout=5)


def test_silent_scale_is_no_answer_then_recovers(sim: ScaleSimulator, events: Events) -> None:
    with make_scale(sim, events, reply_timeout_s=0.1):
        events.wait_for(stable(512))
        mark = events.mark()
        sim.set_silent(True)
        events.wait_for(state("fault", "no_answer"), mark)
        events.wait_for(status("no_answer"), mark)
        mark = events.mark()
        sim.set_silent(False)
        events.wait_for(state("ok"), mark)
        events.wait_for(stable(512), mark)


GARBAGE = {
    "toledo8217": b"\x02?\xc1\r\xff\x0201.9",
    "sma": b"\n 1G  \xb0\xb0\r\n 1G   ",
    "mtsics": b"S S  9\xb9.999 kg\r\nS S 1",
    "cas": b"ST,GS,1\xe0,+ 9\xb9.999 kg\r\nST,GS,1",
}


def test_garbage_and_cut_frames_never_give_a_wrong_weight(sim: ScaleSimulator, events: Events) -> None:
    with make_scale(sim, events, changes_only=False, reply_timeout_s=0.1):
        events.wait_for(stable(512))
        for _ in range(4):
            mark = events.mark()
            sim.inject(GARBAGE[sim.protocol.name])  # lands in front of the next reply
            events.wait_readings(2, mark)
        events.wait_for(stable(512), events.mark())
        assert {r.weight_g for r in events.readings()} <= {None, 512}
        assert "error" in {r.status for r in events.readings()}  # the bad frames were seen


def test_starts_before_the_scale_is_plugged_in(protocol: str, events: Events, tmp_path: Path) -> None:
    link = tmp_path / "later"
    with Scale(ScaleRole.BAGGING, protocol, str(link), events, **FAST) as scale:  # type: ignore[arg-type]
        events.wait_for(state("fault", "unplugged"))
        assert scale.device == "bagging_scale"
        with ScaleSimulator(protocol, link=link, weight_g=250, stream_interval_s=0.02):
            events.wait_for(state("ok"))
            events.wait_for(stable(250))


def test_bagging_role_streams_stable_weights(sim: ScaleSimulator, events: Events) -> None:
    with make_scale(sim, events, ScaleRole.BAGGING):
        events.wait_for(stable(512))
        for grams in (900, 1400, 400):
            mark = events.mark()
            sim.place(grams)
            events.wait_for(stable(grams), mark)
    assert all(r.role is ScaleRole.BAGGING for r in events.readings())
    assert events.items[0] == DeviceState("bagging_scale", "ok", "")


@pytest.mark.parametrize("protocol", ["sma"])  # protocol-independent
def test_close_is_idempotent_and_final(sim: ScaleSimulator, events: Events) -> None:
    scale = make_scale(sim, events).start()
    events.wait_for(stable(512))
    scale.close()
    scale.close()
    with pytest.raises(DeviceError):
        scale.start()
    with pytest.raises(DeviceError):
        scale.tare()
    sim.close()
    sim.close()


def test_require_port_reports_a_missing_port_at_once(tmp_path: Path, events: Events) -> None:
    scale = Scale(ScaleRole.PRODUCE, "sma", str(tmp_path / "nope"), events)
    with pytest.raises(DeviceError, match="nope"):
        scale.start(require_port=True)
    scale.close()


@pytest.mark.parametrize(("protocol", "role"), [
    ("toledo8217", ScaleRole.PRODUCE), ("sma", ScaleRole.BAGGING), ("mtsics", ScaleRole.PRODUCE),
    ("cas", ScaleRole.BAGGING)])
def test_open_scale_from_config_with_simulate(protocol: str, role: ScaleRole, events: Events) -> None:
    section = ScaleSection(protocol=protocol, poll_interval_s=0.02, stable_window_s=0.05)
    scale = open_scale(section, role, events, simulate=True, reply_timeout_s=0.25)
    try:
        assert scale.simulator is not None and scale.port == scale.simulator.path
        scale.simulator.place(512)  # division 1 g: a scenario's weigh: 0.512 reads 512 g
        events.wait_for(stable(512))
        link = Path(scale.port)
    finally:
        scale.close()
    assert not link.exists() and not link.parent.exists()


def test_a_scale_that_only_sends_garbage_raises_a_warning(sim: ScaleSimulator, events: Events) -> None:
    with make_scale(sim, events) as scale:
        events.wait_for(stable(512))
        mark = events.mark()
        sim.inject(GARBAGE[sim.protocol.name] * 6)  # six bad frames in a row
        events.wait_for(state("warning", "garbled"), mark)
        events.wait_for(state("ok"), mark)  # good frames again clear it
        assert scale.wait_reading(timeout=5) == WeightReading(ScaleRole.PRODUCE, 512, True, "ok")


@pytest.mark.parametrize("protocol", ["sma"])  # protocol-independent
def test_wait_reading_times_out_without_a_stable_weight(sim: ScaleSimulator, events: Events) -> None:
    sim.set_motion(True)
    with make_scale(sim, events) as scale:
        assert scale.wait_reading(timeout=0.3) is None
        reading = scale.wait_reading(timeout=5, stable=False)
        assert reading is not None and reading.status == "motion"


@pytest.mark.parametrize("protocol", ["toledo8217"])  # 7E1 from the protocol, not the config
def test_from_config_uses_the_section(sim: ScaleSimulator, events: Events) -> None:
    section = ScaleSection(protocol=sim.protocol.name, port=sim.path, capacity_kg=0.5, division_g=2.5,
                           poll_interval_s=0.02, stable_window_s=0.05)
    with Scale.from_config(section, ScaleRole.PRODUCE, events, reply_timeout_s=0.25) as scale:
        assert scale.port == sim.path and scale.device == "scale"
        events.wait_for(status("over_capacity"))  # 512 g on a 0.5 kg scale
