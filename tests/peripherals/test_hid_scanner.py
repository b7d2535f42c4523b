"""The HID (keyboard wedge) scanner: key decoding, AIM ids, grab, unplug and hot-plug.

This machine has no /dev/uinput, so the reader is tested with recorded evdev event sequences
(``evdev.InputEvent`` values in the order a USB scanner sends them: MSC_SCAN, KEY down, SYN,
MSC_SCAN, KEY up, SYN) fed through the same ``KeyDecoder`` and the same reader thread, over a
pipe-backed stand-in for ``evdev.InputDevice``. Where /dev/uinput is usable, the last test
drives a real virtual keyboard through the kernel.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable

import pytest
from evdev import InputEvent, ecodes

from kiosk.config import ScannerSection
from kiosk.events import DeviceState, Scanned
from kiosk.peripherals.hid_scanner import (
    HidScanner,
    KeyDecoder,
    decode_events,
    open_scanner,
    scan_event,
    split_aim,
)
from tests.support import EventLog

# The US keyboard as a scanner types it: character -> (key name, shift). Written out by hand,
# independent of the module's own keymap.
US = {**{c: (f"KEY_{c.upper()}", False) for c in "abcdefghijklmnopqrstuvwxyz"},
      **{c: (f"KEY_{c.lower().upper()}", True) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
      **{d: (f"KEY_{d}", False) for d in "0123456789"},
      "-": ("KEY_MINUS", False), "_": ("KEY_MINUS", True), ":": ("KEY_SEMICOLON", True),
      "]": ("KEY_RIGHTBRACE", False), "(": ("KEY_9", True), ")": ("KEY_0", True), "/": ("KEY_SLASH", False),
      ".": ("KEY_DOT", False), " ": ("KEY_SPACE", False), "?": ("KEY_SLASH", True), "=": ("KEY_EQUAL", False),
      "[": ("KEY_LEFTBRACE", False)}
KEYPAD = {d: f"KEY_KP{d}" for d in "0123456789"}


class Recorder:
    """Builds event sequences the way a scanner emits them, 2 ms per key."""

    def __init__(self, start: float = 1000.0, step: float = 0.002) -> None:
        self.t = start
        self.step = step
        self.events: list[InputEvent] = []

    def _ev(self, type_: int, code: int, value: int) -> None:
        sec = int(self.t)
        self.events.append(InputEvent(sec, int(round((self.t - sec) * 1e6)), type_, code, value))

    def key(self, name: str, value: int) -> Recorder:
        self._ev(ecodes.EV_MSC, ecodes.MSC_SCAN, 0x70000 + ecodes.ecodes[name])
        self._ev(ecodes.EV_KEY, ecodes.ecodes[name], value)
        self._ev(ecodes.EV_SYN, ecodes.SYN_REPORT, 0)
        self.t += self.step
        return self

    def tap(self, name: str) -> Recorder:
        return self.key(name, 1).key(name, 0)

    def type(self, text: str, keypad_digits: bool = False) -> Recorder:
        for ch in text:
            if keypad_digits and ch in KEYPAD:
                self.tap(KEYPAD[ch])
                continue
            name, shift = US[ch]
            if shift:
                self.key("KEY_LEFTSHIFT", 1)
            self.tap(name)
            if shift:
                self.key("KEY_LEFTSHIFT", 0)
        return self

    def gs_ctrl(self) -> Recorder:  # FNC1 as Ctrl+]
        return self.key("KEY_LEFTCTRL", 1).tap("KEY_RIGHTBRACE").key("KEY_LEFTCTRL", 0)

    def gs_alt(self) -> Recorder:  # FNC1 as Alt + keypad 0 2 9
        self.key("KEY_LEFTALT", 1)
        for d in "029":
            self.tap(KEYPAD[d])
        return self.key("KEY_LEFTALT", 0)

    def enter(self) -> Recorder:
        return self.tap("KEY_ENTER")

    def pause(self, seconds: float) -> Recorder:
        self.t += seconds
        return self


def scans(events: list[InputEvent], **kw) -> list[str]:
    return decode_events(events, KeyDecoder(**kw))


# ------------------------------------------------------------------ key decoding


def test_digits_and_enter():
    assert scans(Recorder().type("6901234567892").enter().events) == ["6901234567892"]


def test_shifted_characters_and_the_keyboard_layout_does_not_matter():
    # a French or UK layout in the OS changes nothing: key codes are decoded with our US map
    events = Recorder().type("M13800138000").enter().type("KR1:ABCD_efgh-23").enter().events
    assert scans(events) == ["M13800138000", "KR1:ABCD_efgh-23"]


def test_caps_lock_flips_letters_only():
    r = Recorder().tap("KEY_CAPSLOCK").type("c-full100-10").tap("KEY_CAPSLOCK").enter()
    assert scans(r.events) == ["C-FULL100-10"]


def test_keypad_digits_and_keypad_enter():
    r = Recorder().type("6901234567892", keypad_digits=True).tap("KEY_KPENTER")
    assert scans(r.events) == ["6901234567892"]


@pytest.mark.parametrize("gs", ["gs_ctrl", "gs_alt"])
def test_fnc1_arrives_as_gs(gs):
    r = Recorder().type("]C1010950110153100010AB")
    getattr(r, gs)()
    r.type("3103000123").enter()
    (text,) = scans(r.events)
    assert text == "]C1010950110153100010AB\x1d3103000123"
    event = scan_event(text)
    assert event == Scanned("010950110153100010AB\x1d3103000123", source="hid", symbology="gs1-128")


def test_a_person_typing_slowly_is_not_a_scan():
    r = Recorder(step=0.3).type("123").enter()  # 300 ms between keys
    assert scans(r.events) == []


def test_a_pause_mid_scan_drops_the_whole_scan_never_its_tail():
    # 5010400123402 is an EAN-13 whose last 8 digits, 00123402, are a valid EAN-8: a different
    # product. A scanner that stalls 150 ms after 5 digits must add nothing, not that EAN-8.
    decoder = KeyDecoder(key_gap_s=0.1)
    r = Recorder().type("50104").pause(0.15).type("00123402").enter()
    assert decode_events(r.events, decoder) == []
    assert (decoder.dropped, decoder.broken) == (1, 1)
    # the next scan, in one burst, is read
    r = Recorder(start=2000).type("5010400123402").enter()
    assert decode_events(r.events, decoder) == ["5010400123402"]
    assert decoder.broken == 1


def test_stray_keys_then_a_pause_then_a_scan_is_dropped_then_scanning_works():
    decoder = KeyDecoder()
    r = Recorder().type("999").pause(1.0).type("6901234567892").enter().type("6901234567892").enter()
    assert decode_events(r.events, decoder) == ["6901234567892"]
    assert decoder.dropped == 1


def test_the_key_gap_is_configurable():
    r = Recorder().type("69012").pause(0.15).type("34567892").enter()
    assert scans(r.events, key_gap_s=0.2) == ["6901234567892"]
    assert scans(r.events, key_gap_s=0.1) == []


def test_key_repeat_of_a_stuck_key_is_ignored():
    r = Recorder().type("690")
    for _ in range(20):
        r.key("KEY_1", 2)
    r.type("1234567892").enter()
    assert scans(r.events) == ["6901234567892"]


def test_an_endless_scan_is_dropped_whole():
    decoder = KeyDecoder()
    r = Recorder(step=0.0005).type("7" * 600).enter().type("6901234567892").enter()
    assert decode_events(r.events, decoder) == ["6901234567892"]
    assert decoder.dropped == 1


def test_enter_alone_and_unknown_keys_give_nothing():
    r = Recorder().enter().tap("KEY_F5").tap("KEY_ESC").enter()
    assert scans(r.events) == []


# ------------------------------------------------------------------ AIM identifiers and bad text


@pytest.mark.parametrize("text, expected", [
    ("]E06901234567892", ("6901234567892", "ean13")),
    ("]E00036000291452", ("0036000291452", "upca")),
    ("]E001234565", ("01234565", "upce")),
    ("]E496385074", ("96385074", "ean8")),
    ("]E3690123456789212", ("6901234567892", "ean13")),  # add-on dropped
    ("]C0M13800138000", ("M13800138000", "code128")),
    ("]C1010950110153100010AB", ("010950110153100010AB", "gs1-128")),
    ("]e00109501101531000", ("0109501101531000", "databar")),
    ("]Q1KR1:ABCDEFGHJK", ("KR1:ABCDEFGHJK", "qr")),
    ("]Q3010950110153100010AB", ("010950110153100010AB", "gs1-qr")),
    ("]A4CODE39", ("CODE39", "code39")),
    ("6901234567892", ("6901234567892", None)),
    ("]", ("]", None)),
])
def test_aim_identifiers(text, expected):
    assert split_aim(text) == expected


@pytest.mark.parametrize("text", ["M138\x07", "\x1b[2J6901234567892", "690123\x00", "x" * 600, "", "]E0"])
def test_text_that_cannot_be_a_barcode_is_not_a_scan(text):
    assert scan_event(text) is None


def test_hid_and_camera_give_the_same_event_for_the_same_code():
    event = scan_event("]E06901234567892")
    assert event == Scanned("6901234567892", source="hid", symbology="ean13")


# ------------------------------------------------------------------ the reader thread


class FakeInput:
    """Stands in for ``evdev.InputDevice``: a pipe makes it selectable; ``send`` queues events."""

    def __init__(self, path: str) -> None:
        self.path, self.name = path, "Barcode Scanner HID"
        self._r, self._w = os.pipe()
        self._queue: list[InputEvent] = []
        self._lock = threading.Lock()
        self.grabbed = False
        self.gone = False
        self.closed = False

    def fileno(self) -> int:
        return self._r

    def send(self, events: list[InputEvent]) -> None:
        with self._lock:
            self._queue.extend(events)
        os.write(self._w, b"x")

    def unplug(self) -> None:
        self.gone = True
        os.write(self._w, b"x")

    def read(self):
        os.read(self._r, 4096)
        if self.gone:
            raise OSError(errno.ENODEV, "No such device")
        with self._lock:
            events, self._queue = self._queue, []
        if not events:
            raise BlockingIOError
        return iter(events)

    def grab(self) -> None:
        if self.name == "busy":
            raise OSError(errno.EBUSY, "Device or resource busy")
        self.grabbed = True

    def ungrab(self) -> None:
        self.grabbed = False

    def close(self) -> None:
        self.closed = True
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass


class Events(EventLog):

    def wait_for(self, test: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not test():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; events: {self.items}")
                self._cond.wait(left)

    def of(self, kind: type) -> list:
        return [e for e in self.items if isinstance(e, kind)]


@pytest.fixture
def plug(tmp_path):
    """A device path that exists while 'plugged', and the fakes opened on it."""
    path = tmp_path / "kiosk-scanner"
    opened: list[FakeInput] = []

    def open_device(p: str) -> FakeInput:
        if not path.exists():
            raise OSError(errno.ENOENT, "gone")
        dev = FakeInput(p)
        opened.append(dev)
        return dev

    path.touch()
    return path, opened, open_device


def wait_opened(opened: list[FakeInput], n: int = 1) -> FakeInput:
    deadline = time.monotonic() + 10
    while len(opened) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(opened) >= n
    dev = opened[n - 1]
    while not dev.grabbed and time.monotonic() < deadline:
        time.sleep(0.01)
    return dev


def test_scans_are_posted_and_the_device_is_grabbed(plug):
    path, opened, open_device = plug
    events = Events()
    with HidScanner(str(path), events, open_device=open_device, poll_s=0.02):
        dev = wait_opened(opened)
        assert dev.grabbed
        dev.send(Recorder().type("]E06901234567892").enter().type("M13800138000").enter().events)
        events.wait_for(lambda: len(events.of(Scanned)) == 2)
    assert events.of(Scanned) == [Scanned("6901234567892", "hid", "ean13"), Scanned("M13800138000", "hid", None)]
    assert events.of(DeviceState)[0] == DeviceState("scanner", "ok", "")
    assert dev.closed and not dev.grabbed


def test_unplug_and_hot_plug(plug):
    path, opened, open_device = plug
    events = Events()
    with HidScanner(str(path), events, open_device=open_device, poll_s=0.02) as scanner:
        first = wait_opened(opened)
        path.unlink()
        first.unplug()
        events.wait_for(lambda: DeviceState("scanner", "fault", "unplugged") in events.items)
        path.touch()  # plugged back in
        second = wait_opened(opened, 2)
        events.wait_for(lambda: events.of(DeviceState)[-1] == DeviceState("scanner", "ok", ""))
        second.send(Recorder().type("6901234567892").enter().events)
        events.wait_for(lambda: len(events.of(Scanned)) == 1)
        assert scanner.health()["state"] == "ok"
    assert first.closed


def test_half_a_scan_before_an_unplug_is_not_completed_after(plug):
    path, opened, open_device = plug
    events = Events()
    with HidScanner(str(path), events, open_device=open_device, poll_s=0.02):
        first = wait_opened(opened)
        first.send(Recorder().type("690123").events)
        time.sleep(0.05)
        first.unplug()
        second = wait_opened(opened, 2)
        second.send(Recorder().type("4567892").enter().events)  # the tail alone: not a product
        second.send(Recorder(start=2000).type("5901234123457").enter().events)
        events.wait_for(lambda: len(events.of(Scanned)) >= 1)
    assert [e.text for e in events.of(Scanned)][-1] == "5901234123457"
    assert "6901234567892" not in [e.text for e in events.of(Scanned)]


def test_a_scanner_grabbed_by_another_program_is_reported_busy(plug):
    path, opened, _ = plug
    events = Events()

    def busy(p: str) -> FakeInput:
        dev = FakeInput(p)
        dev.name = "busy"
        opened.append(dev)
        return dev

    with HidScanner(str(path), events, open_device=busy, poll_s=0.02):
        events.wait_for(lambda: DeviceState("scanner", "fault", "busy") in events.items)


def test_a_missing_scanner_is_reported_and_waited_for(tmp_path):
    events = Events()
    scanner = open_scanner(ScannerSection(enabled=True, device=str(tmp_path / "none")), events, poll_s=0.02)
    try:
        events.wait_for(lambda: DeviceState("scanner", "fault", "unplugged") in events.items)
        assert scanner.health()["state"] == "fault"
    finally:
        scanner.close()


def test_junk_typed_into_the_scanner_adds_nothing(plug):
    path, opened, open_device = plug
    events = Events()
    with HidScanner(str(path), events, open_device=open_device, poll_s=0.02) as scanner:
        dev = wait_opened(opened)
        junk = Recorder(step=0.0005)
        junk.key("KEY_LEFTCTRL", 1).tap("KEY_G").key("KEY_LEFTCTRL", 0).type("690").enter()  # BEL
        junk.type("9" * 700).enter()
        junk.key("KEY_LEFTALT", 1).tap("KEY_KP2").tap("KEY_KP7").key("KEY_LEFTALT", 0).type("[2J").enter()  # ESC
        dev.send(junk.events)
        dev.send(Recorder(start=3000).type("6901234567892").enter().events)
        events.wait_for(lambda: len(events.of(Scanned)) == 1)
        assert scanner.dropped == 3
    assert [e.text for e in events.of(Scanned)] == ["6901234567892"]


def test_a_broken_scan_is_dropped_counted_and_reported(plug):
    path, opened, open_device = plug
    events = Events()
    section = ScannerSection(enabled=True, device=str(path), key_gap_s=0.05)
    with HidScanner.from_config(section, events, open_device=open_device, poll_s=0.02) as scanner:
        assert scanner.key_gap_s == 0.05
        dev = wait_opened(opened)
        dev.send(Recorder().type("50104").pause(0.08).type("00123402").enter().events)
        events.wait_for(lambda: DeviceState("scanner", "warning", "broken_scan") in events.items)
        health = scanner.health()
        assert (health["state"], health["reason"], health["dropped"], health["broken"]) == (
            "warning", "broken_scan", 1, 1)
        dev.send(Recorder(start=2000).type("5010400123402").enter().events)
        events.wait_for(lambda: len(events.of(Scanned)) == 1)
        assert scanner.health()["state"] == "ok"
    assert [e.text for e in events.of(Scanned)] == ["5010400123402"]
    assert events.of(DeviceState)[-1] == DeviceState("scanner", "ok", "")


class VanishingInput:
    """An input device unplugged between ``list_devices`` and the questions asked of it."""

    def __init__(self, path: str) -> None:
        self.path, self.name, self.closed = path, "Barcode Scanner", False

    def capabilities(self):
        raise OSError(errno.ENODEV, "No such device")

    def close(self) -> None:
        self.closed = True


class PresentInput(VanishingInput):
    def capabilities(self):
        return {ecodes.EV_KEY: [ecodes.KEY_1, ecodes.KEY_ENTER]}


def test_find_scanners_skips_a_device_that_vanishes_while_probed(monkeypatch):
    import evdev

    from kiosk.peripherals import hid_scanner

    made: list[VanishingInput] = []

    def input_device(path: str) -> VanishingInput:
        dev = (VanishingInput if path.endswith("7") else PresentInput)(path)
        made.append(dev)
        return dev

    monkeypatch.setattr(evdev, "list_devices", lambda: ["/dev/input/event7", "/dev/input/event8"])
    monkeypatch.setattr(evdev, "InputDevice", input_device)
    assert hid_scanner.find_scanners() == ["/dev/input/event8"]
    assert all(dev.closed for dev in made)


def test_auto_mode_survives_a_device_that_vanishes_while_probed(monkeypatch):
    import evdev

    monkeypatch.setattr(evdev, "list_devices", lambda: ["/dev/input/event7"])
    monkeypatch.setattr(evdev, "InputDevice", VanishingInput)
    events = Events()
    with HidScanner("auto", events, poll_s=0.02) as scanner:
        events.wait_for(lambda: DeviceState("scanner", "fault", "unplugged") in events.items)
        time.sleep(0.1)
        assert scanner._thread is not None and scanner._thread.is_alive()


def test_an_unexpected_error_in_the_reader_is_reported_and_retried(plug):
    path, opened, open_device = plug
    calls = {"n": 0}

    def flaky_open(p: str) -> FakeInput:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("a bug in a driver binding")
        return open_device(p)

    events = Events()
    with HidScanner(str(path), events, open_device=flaky_open, poll_s=0.02) as scanner:
        events.wait_for(lambda: DeviceState("scanner", "fault", "error") in events.items)
        dev = wait_opened(opened)
        events.wait_for(lambda: events.of(DeviceState)[-1] == DeviceState("scanner", "ok", ""))
        dev.send(Recorder().type("6901234567892").enter().events)
        events.wait_for(lambda: len(events.of(Scanned)) == 1)
        assert scanner._thread is not None and scanner._thread.is_alive()


UINPUT = os.path.exists("/dev/uinput") and os.access("/dev/uinput", os.W_OK)


@pytest.mark.skipif(not UINPUT, reason="/dev/uinput is not available on this machine")
def test_a_virtual_scanner_through_the_kernel():  # pragma: no cover - needs /dev/uinput
    from evdev import UInput

    events = Events()
    keys = [ecodes.ecodes[n] for n in ("KEY_ENTER", "KEY_LEFTSHIFT", *[f"KEY_{d}" for d in "0123456789"])]
    with UInput({ecodes.EV_KEY: keys}, name="Virtual Barcode Scanner") as ui:
        time.sleep(0.3)  # udev creates the node
        with HidScanner(ui.device.path, events, poll_s=0.05):
            time.sleep(0.3)
            for ch in "6901234567892":
                ui.write(ecodes.EV_KEY, ecodes.ecodes[f"KEY_{ch}"], 1)
                ui.write(ecodes.EV_KEY, ecodes.ecodes[f"KEY_{ch}"], 0)
                ui.syn()
            ui.write(ecodes.EV_KEY, ecodes.KEY_ENTER, 1)
            ui.write(ecodes.EV_KEY, ecodes.KEY_ENTER, 0)
            ui.syn()
            events.wait_for(lambda: len(events.of(Scanned)) == 1)
    assert events.of(Scanned)[0].text == "6901234567892"
