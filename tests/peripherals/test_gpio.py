"""Lane light, help button, buzzer and optional inputs on gpiozero mock pins."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from kiosk.config import GpioSection
from kiosk.errors import ConfigError, DeviceError
from kiosk.events import DeviceState, HelpButton
from kiosk.peripherals.gpio import (
    DoorSwitch,
    HelpButtonSwitch,
    LaneBuzzer,
    LaneGpio,
    LaneLight,
    LaneSignal,
    LightPattern,
    PresenceSensor,
    make_pin_factory,
)

GREEN, YELLOW, RED, BUTTON, BUZZER, BAGGING, DOOR = 17, 27, 22, 23, 24, 5, 6


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    """A clean mock factory per test (pins and reservations are class-level in gpiozero)."""
    saved = Device.pin_factory
    mock = MockFactory()
    try:
        yield mock
    finally:
        mock.reset()
        Device.pin_factory = saved


def lit(light: LaneLight) -> dict[str, bool]:
    return {colour: bool(light.lamp(colour).pin.state) for colour in ("green", "yellow", "red")}


def wait_for(predicate, timeout: float = 3.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


# --- lane light ---------------------------------------------------------------------------------

def test_steady_signals(factory: MockFactory) -> None:
    with LaneLight(GREEN, YELLOW, RED, pin_factory=factory) as light:
        assert lit(light) == {"green": False, "yellow": False, "red": False}  # dark until told
        light.show("open")
        assert lit(light) == {"green": True, "yellow": False, "red": False}
        assert factory.pin(GREEN).state == 1
        light.show(LaneSignal.INTERVENTION)
        assert lit(light) == {"green": False, "yellow": False, "red": True}
        light.show("closed")
        assert lit(light) == {"green": False, "yellow": False, "red": True}
        light.show("off")
        assert lit(light) == {"green": False, "yellow": False, "red": False}
        assert light.signal is LaneSignal.OFF


@pytest.mark.parametrize("signal", ["help", "attention"])
def test_help_and_attention_blink_yellow(factory: MockFactory, signal: str) -> None:
    fast = LightPattern("yellow", blink=True, on_s=0.02, off_s=0.02)
    with LaneLight(GREEN, YELLOW, RED, pin_factory=factory, patterns={LaneSignal(signal): fast}) as light:
        light.show("open")
        light.show(signal)
        yellow = factory.pin(YELLOW)
        assert wait_for(lambda: sum(1 for s in yellow.states if s.state) >= 3)
        assert not factory.pin(GREEN).state and not factory.pin(RED).state
        light.show("open")  # stops the blinking
        assert lit(light) == {"green": True, "yellow": False, "red": False}
        count = len(yellow.states)
        time.sleep(0.1)
        assert len(yellow.states) == count


def test_default_patterns_match_the_design() -> None:
    from kiosk.peripherals.gpio import DEFAULT_PATTERNS as P

    assert (P[LaneSignal.OPEN].colour, P[LaneSignal.OPEN].blink) == ("green", False)
    assert all(P[s].colour == "yellow" and P[s].blink for s in (LaneSignal.HELP, LaneSignal.ATTENTION))
    assert all(P[s].colour == "red" for s in (LaneSignal.INTERVENTION, LaneSignal.CLOSED))


def test_active_low_relay_board(factory: MockFactory) -> None:
    with LaneLight(GREEN, YELLOW, RED, pin_factory=factory, active_high=False) as light:
        assert factory.pin(GREEN).state == 1  # off = high on an active-low board
        light.show("open")
        assert factory.pin(GREEN).state == 0


def test_unknown_signal_and_colour(factory: MockFactory) -> None:
    with LaneLight(GREEN, YELLOW, RED, pin_factory=factory) as light, pytest.raises(ValueError):
        light.show("disco")
    with pytest.raises(ValueError):
        LaneLight(GREEN, YELLOW, RED, pin_factory=factory, patterns={LaneSignal.OPEN: LightPattern("blue")})


def test_pin_clash_is_a_device_error_and_releases_pins(factory: MockFactory) -> None:
    with pytest.raises(DeviceError, match="pin"):
        LaneLight(GREEN, GREEN, RED, pin_factory=factory)
    LaneLight(GREEN, YELLOW, RED, pin_factory=factory).close()  # the first lamp was released


def test_close_is_idempotent(factory: MockFactory) -> None:
    light = LaneLight(GREEN, YELLOW, RED, pin_factory=factory)
    light.close()
    light.close()


# --- help button --------------------------------------------------------------------------------

def test_help_button_posts_once_per_press(factory: MockFactory) -> None:
    posted: list[object] = []
    now = [100.0]
    button = HelpButtonSwitch(BUTTON, posted.append, pin_factory=factory, clock=lambda: now[0])
    pin = factory.pin(BUTTON)
    assert not button.is_pressed
    pin.drive_low()  # pressed (to ground, pull-up)
    assert button.is_pressed
    assert posted == [HelpButton()]
    # contact bounce: release and press again within the debounce window
    now[0] += 0.01
    pin.drive_high()
    pin.drive_low()
    now[0] += 0.05
    pin.drive_high()
    pin.drive_low()
    assert posted == [HelpButton()]
    now[0] += 1.0
    pin.drive_high()
    pin.drive_low()
    assert posted == [HelpButton(), HelpButton()]
    button.close()


def test_help_button_release_posts_nothing(factory: MockFactory) -> None:
    posted: list[object] = []
    button = HelpButtonSwitch(BUTTON, posted.append, pin_factory=factory)
    factory.pin(BUTTON).drive_high()
    assert posted == []
    button.close()


# --- buzzer -------------------------------------------------------------------------------------

def test_beep_and_tones(factory: MockFactory) -> None:
    buzzer = LaneBuzzer(BUZZER, pin_factory=factory)
    pin = factory.pin(BUZZER)
    buzzer.beep(wait=True)
    pin.assert_states([False, True, False])
    pin.clear_states()
    buzzer.error_tone(wait=True)
    pin.assert_states([False, True, False, True, False, True, False])
    pin.clear_states()
    buzzer.play("alert", wait=True)
    pin.assert_states([False, True, False, True, False])
    pin.clear_states()
    buzzer.play("beep")  # background: returns at once, then beeps
    assert wait_for(lambda: [s.state for s in pin.states] == [False, True, False])
    with pytest.raises(ValueError):
        buzzer.play("siren")
    buzzer.close()


def test_error_tone_timing(factory: MockFactory) -> None:
    buzzer = LaneBuzzer(BUZZER, pin_factory=factory)
    pin = factory.pin(BUZZER)
    buzzer.error_tone(wait=True)
    on_times = [b.timestamp for a, b in zip(pin.states, pin.states[1:], strict=False) if a.state]
    assert len(on_times) == 3 and all(0.25 < t < 0.6 for t in on_times)
    buzzer.close()


# --- optional inputs ----------------------------------------------------------------------------

def test_bagging_presence_sensor(factory: MockFactory) -> None:
    changes: list[bool] = []
    sensor = PresenceSensor(BAGGING, pin_factory=factory, on_change=changes.append)
    assert not sensor.occupied
    factory.pin(BAGGING).drive_high()
    assert sensor.occupied
    factory.pin(BAGGING).drive_low()
    assert changes == [True, False]
    sensor.close()


def test_door_switch(factory: MockFactory) -> None:
    posted: list[object] = []
    door = DoorSwitch(DOOR, posted.append, pin_factory=factory)
    pin = factory.pin(DOOR)
    assert door.is_open  # nothing pulls the input low: open
    pin.drive_low()  # door shut: switch closed to ground
    assert not door.is_open
    pin.drive_high()
    opened, shut = DeviceState("service_door", "warning", "door_open"), DeviceState("service_door", "ok", "")
    assert posted == [opened, shut, opened]
    door.close()


# --- from the config ----------------------------------------------------------------------------

def test_lane_gpio_from_config(factory: MockFactory) -> None:
    posted: list[object] = []
    cfg = GpioSection(bagging_sensor=BAGGING, door_switch=DOOR)
    with LaneGpio.from_config(cfg, posted.append, pin_factory=factory) as gpio:
        gpio.light.show("open")
        assert factory.pin(cfg.light_green).state == 1
        factory.pin(cfg.help_button).drive_low()
        assert posted == [DeviceState("service_door", "warning", "door_open"), HelpButton()]
        gpio.buzzer.beep(wait=True)
        assert gpio.bagging_sensor is not None and gpio.door is not None
    # closed: the same pins can be taken again
    LaneGpio.from_config(cfg, posted.append, pin_factory=factory).close()


def test_optional_inputs_absent_by_default(factory: MockFactory) -> None:
    with LaneGpio.from_config(GpioSection(), lambda e: None, pin_factory=factory) as gpio:
        assert gpio.bagging_sensor is None and gpio.door is None


def test_config_pin_clash_releases_everything(factory: MockFactory) -> None:
    bad = GpioSection(buzzer=GpioSection().light_red)
    with pytest.raises(DeviceError):
        LaneGpio.from_config(bad, lambda e: None, pin_factory=factory)
    LaneGpio.from_config(GpioSection(), lambda e: None, pin_factory=factory).close()


def test_pin_factory_by_name() -> None:
    assert make_pin_factory("") is None  # gpiozero's own default
    mock = make_pin_factory("mock")
    assert isinstance(mock, MockFactory)
    mock.reset()
    with pytest.raises(ConfigError, match="pin_factory"):
        make_pin_factory("nosuch")
