"""The serial link without a device: line settings, backoff, commands on a closed link."""

from __future__ import annotations

from typing import Any

import pytest
import serial

from kiosk.errors import DeviceError
from kiosk.peripherals.scale.cas import Cas
from kiosk.peripherals.scale.reading import Command, Frame
from kiosk.peripherals.scale.toledo8217 import Toledo8217
from kiosk.peripherals.scale.transport import ScaleLink, open_port


class Listener:
    def __init__(self) -> None:
        self.lost: list[str] = []

    def frame_received(self, frame: Frame) -> None:
        raise AssertionError("no frames expected")

    def command_done(self, command: Command, accepted: bool) -> None:
        pass

    def no_answer(self) -> None:
        pass

    def connection_lost(self, reason: str) -> None:
        self.lost.append(reason)


def test_port_is_opened_with_the_protocols_own_framing() -> None:
    seen: dict[str, Any] = {}

    def factory(port: str, **kw: Any) -> object:
        seen.update(kw, port=port)
        return object()

    open_port("/dev/kiosk-scale", Toledo8217(), factory)
    assert seen["port"] == "/dev/kiosk-scale"
    assert (seen["baudrate"], seen["bytesize"], seen["parity"], seen["stopbits"]) == (9600, 7, "E", 1)
    assert seen["exclusive"] is True  # a second process fails fast instead of sharing the scale


def test_open_failure_names_port_settings_and_cause() -> None:
    def factory(port: str, **kw: Any) -> object:
        raise serial.SerialException(13, f"could not open port {port}: [Errno 13] Permission denied")

    with pytest.raises(DeviceError, match=r"/dev/ttyUSB0 \(toledo8217, 9600 7E1\): Permission denied"):
        open_port("/dev/ttyUSB0", Toledo8217(), factory)


def test_reopening_backs_off_exponentially_up_to_a_cap() -> None:
    listener = Listener()
    delays: list[float | None] = []
    attempts = 0

    def factory(port: str, **kw: Any) -> object:
        nonlocal attempts
        attempts += 1
        raise serial.SerialException(2, "could not open port: [Errno 2] No such file or directory")

    link = ScaleLink("/dev/kiosk-scale", Toledo8217(), listener, backoff_initial_s=0.5,
                     backoff_max_s=4.0, serial_factory=factory)

    def wait(timeout: float | None = None) -> bool:  # the stop event's timed wait, without waiting
        delays.append(timeout)
        if attempts >= 8:
            link._stop.set()
        return link._stop.is_set()

    link._stop.wait = wait  # type: ignore[method-assign,assignment]
    link.start()
    link._thread.join(timeout=5)
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert set(listener.lost) == {"unplugged"}
    link.close()


def test_commands_on_a_closed_or_continuous_link() -> None:
    link = ScaleLink("/dev/none", Toledo8217(), Listener())
    link.close()
    link.close()  # idempotent
    with pytest.raises(DeviceError):
        link.start()
    future = link.send(Command.TARE)
    with pytest.raises(DeviceError, match="closed"):
        future.result(timeout=1)
    with pytest.raises(DeviceError, match="no zero command"):
        ScaleLink("/dev/none", Cas(), Listener()).send(Command.ZERO)
