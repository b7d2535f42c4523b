"""The lane's GPIO devices: tri-colour lane light, help button, buzzer, optional sensors.

Every device takes its gpiozero pin factory by injection (``pin_factory=``; None means gpiozero's
own default, from ``GPIOZERO_PIN_FACTORY`` or the board). The simulator and tests pass a
``MockFactory``; nothing here picks one by accident. Devices are built in ``LaneGpio.from_config``,
never at import time, and ``close()`` is idempotent.

Button and sensor callbacks run in gpiozero's thread on real pins (synchronously in the caller
with mock pins); they only ``post`` an event, as every peripheral does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from importlib.metadata import entry_points
from typing import Any

from gpiozero import LED, Buzzer, DigitalInputDevice, GPIOZeroError
from gpiozero.pins import Factory

from kiosk.config import GpioSection
from kiosk.errors import ConfigError, DeviceError
from kiosk.events import DeviceState, HelpButton, Post

log = logging.getLogger(__name__)


def make_pin_factory(name: str) -> Factory | None:
    """The pin factory called ``name`` in the config: "" = gpiozero's default, "mock" = mock
    pins (simulator), "mockpwm" = mock pins with PWM, or lgpio / rpigpio / pigpio / native."""
    if not name:
        return None
    key = name.lower()
    if key in ("mock", "mockpwm"):
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        return MockFactory(pin_class=MockPWMPin) if key == "mockpwm" else MockFactory()
    found = {ep.name: ep for ep in entry_points(group="gpiozero_pin_factories")}
    if key not in found:
        raise ConfigError(f"config: gpio.pin_factory = {name!r} is not allowed; expected one of: "
                          f"'', mockpwm, {', '.join(sorted(found))}")
    try:
        return found[key].load()()  # type: ignore[no-any-return]
    except Exception as exc:
        raise DeviceError(f"GPIO pin factory {name} cannot start: {exc}") from exc


def _device(what: str, build: Callable[[], Any]) -> Any:
    try:
        return build()
    except GPIOZeroError as exc:
        raise DeviceError(f"GPIO {what}: {type(exc).__name__}: {exc}; check the pins in the [gpio] "
                          "config and that GPIOZERO_PIN_FACTORY or gpio.pin_factory fits this machine") from exc


class LaneSignal(StrEnum):
    OFF = "off"
    OPEN = "open"
    HELP = "help"
    ATTENTION = "attention"
    INTERVENTION = "intervention"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class LightPattern:
    colour: str  # green | yellow | red | "" (dark)
    blink: bool = False
    on_s: float = 0.5
    off_s: float = 0.5


DEFAULT_PATTERNS: dict[LaneSignal, LightPattern] = {
    LaneSignal.OFF: LightPattern(""),
    LaneSignal.OPEN: LightPattern("green"),
    LaneSignal.HELP: LightPattern("yellow", blink=True),
    LaneSignal.ATTENTION: LightPattern("yellow", blink=True),
    LaneSignal.INTERVENTION: LightPattern("red"),
    LaneSignal.CLOSED: LightPattern("red"),
}

COLOURS = ("green", "yellow", "red")


class LaneLight:
    """The tower light on the lane: one lamp lit (steady or blinking) per ``LaneSignal``."""

    def __init__(self, green: int, yellow: int, red: int, *, pin_factory: Factory | None = None,
                 active_high: bool = True, patterns: Mapping[LaneSignal, LightPattern] | None = None) -> None:
        self.patterns = {**DEFAULT_PATTERNS, **(patterns or {})}
        for signal, pattern in self.patterns.items():
            if pattern.colour not in (*COLOURS, ""):
                raise ValueError(f"lane light pattern for {signal}: unknown colour {pattern.colour!r}")
        self._lamps: dict[str, LED] = {}
        try:
            for colour, pin in zip(COLOURS, (green, yellow, red), strict=True):
                self._lamps[colour] = _device(f"{colour} lamp on pin {pin}", partial(
                    LED, pin, active_high=active_high, initial_value=False, pin_factory=pin_factory))
        except DeviceError:
            self.close()
            raise
        self.signal = LaneSignal.OFF

    def lamp(self, colour: str) -> LED:
        return self._lamps[colour]

    def show(self, signal: LaneSignal | str) -> None:
        signal = LaneSignal(signal)
        pattern = self.patterns[signal]
        for colour, lamp in self._lamps.items():
            if colour != pattern.colour:
                lamp.off()
        if pattern.colour:
            lamp = self._lamps[pattern.colour]
            if pattern.blink:
                lamp.blink(on_time=pattern.on_s, off_time=pattern.off_s, background=True)
            else:
                lamp.on()
        self.signal = signal

    def close(self) -> None:
        for lamp in self._lamps.values():
            lamp.close()

    def __enter__(self) -> LaneLight:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HelpButtonSwitch:
    """The physical help button (to ground, internal pull-up). Posts ``HelpButton()`` once per
    press: edges within ``debounce_s`` of the last accepted press are contact bounce or a
    shopper hammering the button, and are ignored."""

    def __init__(self, pin: int, post: Post, *, pin_factory: Factory | None = None,
                 debounce_s: float = 0.3, clock: Callable[[], float] = time.monotonic) -> None:
        self.post = post
        self.debounce_s = debounce_s
        self.clock = clock
        self._last: float | None = None
        self._lock = threading.Lock()
        self.input: DigitalInputDevice = _device(f"help button on pin {pin}", lambda: DigitalInputDevice(
            pin, pull_up=True, pin_factory=pin_factory))
        self.input.when_activated = self._pressed

    def _pressed(self) -> None:
        with self._lock:
            now = self.clock()
            if self._last is not None and now - self._last < self.debounce_s:
                return
            self._last = now
        self.post(HelpButton())

    @property
    def is_pressed(self) -> bool:
        return bool(self.input.is_active)

    def close(self) -> None:
        self.input.close()


class LaneBuzzer:
    """Scan beeps, error and alert tones; each returns at once (the pattern runs in the
    background) unless ``wait=True``."""

    def __init__(self, pin: int, *, pin_factory: Factory | None = None, active_high: bool = True) -> None:
        self.buzzer: Buzzer = _device(f"buzzer on pin {pin}", lambda: Buzzer(
            pin, active_high=active_high, initial_value=False, pin_factory=pin_factory))

    def beep(self, wait: bool = False) -> None:
        self.buzzer.beep(on_time=0.08, off_time=0.05, n=1, background=not wait)

    def error_tone(self, wait: bool = False) -> None:
        self.buzzer.beep(on_time=0.3, off_time=0.15, n=3, background=not wait)

    def alert_tone(self, wait: bool = False) -> None:
        """Calls the attendant: two medium beeps."""
        self.buzzer.beep(on_time=0.15, off_time=0.1, n=2, background=not wait)

    def play(self, kind: str, wait: bool = False) -> None:
        """The checkout's ``Sound`` effect: beep | error | alert."""
        tones = {"beep": self.beep, "error": self.error_tone, "alert": self.alert_tone}
        if kind not in tones:
            raise ValueError(f"unknown sound {kind!r}; expected one of: {', '.join(tones)}")
        tones[kind](wait)

    def off(self) -> None:
        self.buzzer.off()

    def close(self) -> None:
        self.buzzer.close()


class PresenceSensor:
    """Bagging-area presence sensor (IR break beam or PIR), active high: ``occupied``."""

    def __init__(self, pin: int, *, pin_factory: Factory | None = None,
                 on_change: Callable[[bool], None] | None = None) -> None:
        self.input: DigitalInputDevice = _device(f"bagging sensor on pin {pin}", lambda: DigitalInputDevice(
            pin, pull_up=False, pin_factory=pin_factory))
        if on_change is not None:
            self.input.when_activated = lambda: on_change(True)
            self.input.when_deactivated = lambda: on_change(False)

    @property
    def occupied(self) -> bool:
        return bool(self.input.is_active)

    def close(self) -> None:
        self.input.close()


class DoorSwitch:
    """Service door switch (closes to ground when the door is shut). Posts
    ``DeviceState("service_door", "warning", "door_open")`` on opening and ``ok`` on closing,
    and the current state once when created."""

    def __init__(self, pin: int, post: Post | None = None, *, pin_factory: Factory | None = None) -> None:
        self.post = post
        self.input: DigitalInputDevice = _device(f"door switch on pin {pin}", lambda: DigitalInputDevice(
            pin, pull_up=True, pin_factory=pin_factory))
        self.input.when_deactivated = lambda: self._changed(True)
        self.input.when_activated = lambda: self._changed(False)
        self._changed(self.is_open)  # the core learns the state at start, not at the first change

    @property
    def is_open(self) -> bool:
        return not self.input.is_active

    def _changed(self, is_open: bool) -> None:
        if self.post is not None:
            self.post(DeviceState("service_door", "warning", "door_open") if is_open
                      else DeviceState("service_door", "ok", ""))

    def close(self) -> None:
        self.input.close()


class LaneGpio:
    """All GPIO devices of one lane, built from the ``[gpio]`` config section."""

    def __init__(self, light: LaneLight, help_button: HelpButtonSwitch, buzzer: LaneBuzzer,
                 bagging_sensor: PresenceSensor | None = None, door: DoorSwitch | None = None) -> None:
        self.light = light
        self.help_button = help_button
        self.buzzer = buzzer
        self.bagging_sensor = bagging_sensor
        self.door = door

    @classmethod
    def from_config(cls, cfg: GpioSection, post: Post, *, pin_factory: Factory | None = None,
                    patterns: Mapping[LaneSignal, LightPattern] | None = None,
                    on_bagging_change: Callable[[bool], None] | None = None) -> LaneGpio:
        """``pin_factory`` overrides ``cfg.pin_factory`` (tests pass their MockFactory)."""
        factory = pin_factory if pin_factory is not None else make_pin_factory(cfg.pin_factory)
        built: list[Any] = []
        try:
            light = LaneLight(cfg.light_green, cfg.light_yellow, cfg.light_red, pin_factory=factory,
                              patterns=patterns)
            built.append(light)
            button = HelpButtonSwitch(cfg.help_button, post, pin_factory=factory)
            built.append(button)
            buzzer = LaneBuzzer(cfg.buzzer, pin_factory=factory)
            built.append(buzzer)
            sensor = door = None
            if cfg.bagging_sensor >= 0:
                sensor = PresenceSensor(cfg.bagging_sensor, pin_factory=factory, on_change=on_bagging_change)
                built.append(sensor)
            if cfg.door_switch >= 0:
                door = DoorSwitch(cfg.door_switch, post, pin_factory=factory)
                built.append(door)
        except Exception:
            for device in reversed(built):
                device.close()
            raise
        return cls(light, button, buzzer, sensor, door)

    def close(self) -> None:
        for device in (self.door, self.bagging_sensor, self.buzzer, self.help_button, self.light):
            if device is not None:
                device.close()

    def __enter__(self) -> LaneGpio:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
