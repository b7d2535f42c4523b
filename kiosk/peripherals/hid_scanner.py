"""Handheld barcode scanners that type like a keyboard (USB HID "keyboard wedge").

The scanner's input device is read with python-evdev and grabbed (``EVIOCGRAB``), so its
keystrokes never reach the kiosk UI or a console. Key codes are turned into characters by our
own US keymap (``KeyDecoder``, sans-I/O), so the operating system's keyboard layout does not
matter (odoo#214407, InvenTree#10589: French and UK layouts mangle scans). Enter ends a scan.

What a scanner may send and how it is read:

- Shift, Caps Lock, the keypad digits (with or without Num Lock: scanners use them for digits);
- FNC1 / GS (ASCII 29) between GS1 element strings, as ``Ctrl+]`` or as ``Alt`` + keypad
  ``0 2 9`` (the two ways scanners type it); any ``Alt`` + keypad number is that character;
- an AIM symbology identifier (``]E0``, ``]C1``, ``]Q3`` ...) before the data when the scanner is
  set up to send one: it is removed from the text and becomes the ``symbology`` of the scan.

Guards against a person typing on a real keyboard, a flaky scanner and stuck keys: a scanner
types a whole code in a burst, so keys more than ``key_gap_s`` apart break the scan and it is
dropped whole at its Enter (never its tail: the last 8 digits of an EAN-13 are a valid EAN-8
one time in ten, a different product), counted in ``dropped`` and reported as
``DeviceState("scanner", "warning", "broken_scan")`` until the next good scan; a scan longer
than 512 characters is dropped, key repeats are ignored, and text with control characters
other than GS never becomes a scan (``acceptor.clean_text``).

``HidScanner`` is the thread: it opens the configured device (a path such as the udev link
``/dev/input/kiosk-scanner``, or ``auto``: every input device whose name says barcode, scanner
or reader), grabs every matching node (some scanners expose two), posts
``Scanned(text, "hid", symbology)``, and survives unplugging: ``DeviceState("scanner", "fault",
"unplugged")``, then it polls until the scanner is back (hot-plug).
"""

from __future__ import annotations

import errno
import logging
import os
import select
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from kiosk.config import ScannerSection
from kiosk.events import DeviceState, Post, Scanned
from kiosk.peripherals.camera.acceptor import clean_text

log = logging.getLogger("kiosk.scanner")

EV_KEY = 1
KEY_UP, KEY_DOWN, KEY_HOLD = 0, 1, 2
MAX_SCAN = 512

# evdev key codes (linux/input-event-codes.h) -> (plain, with shift), US layout
_ROWS = {
    2: "1!", 3: "2@", 4: "3#", 5: "4$", 6: "5%", 7: "6^", 8: "7&", 9: "8*", 10: "9(", 11: "0)",
    12: "-_", 13: "=+", 26: "[{", 27: "]}", 39: ";:", 40: "'\"", 41: "`~", 43: "\\|", 51: ",<",
    52: ".>", 53: "/?", 57: "  ",
}
_LETTERS = {16: "q", 17: "w", 18: "e", 19: "r", 20: "t", 21: "y", 22: "u", 23: "i", 24: "o", 25: "p",
            30: "a", 31: "s", 32: "d", 33: "f", 34: "g", 35: "h", 36: "j", 37: "k", 38: "l",
            44: "z", 45: "x", 46: "c", 47: "v", 48: "b", 49: "n", 50: "m"}
KEYMAP: dict[int, tuple[str, str]] = {code: (chars[0], chars[1]) for code, chars in _ROWS.items()}
KEYMAP.update({code: (c, c.upper()) for code, c in _LETTERS.items()})
KEYPAD = {82: "0", 79: "1", 80: "2", 81: "3", 75: "4", 76: "5", 77: "6", 71: "7", 72: "8", 73: "9",
          83: ".", 98: "/", 55: "*", 74: "-", 78: "+"}
KEY_ENTER, KEY_KPENTER = 28, 96
KEY_LEFTSHIFT, KEY_RIGHTSHIFT, KEY_CAPSLOCK = 42, 54, 58
KEY_LEFTCTRL, KEY_RIGHTCTRL, KEY_LEFTALT, KEY_RIGHTALT = 29, 97, 56, 100
KEY_TAB = 15
_CTRL = {"]": "\x1d", "[": "\x1b", "\\": "\x1c"}

# AIM symbology identifiers (ISO/IEC 15424) -> the kiosk's symbology names
AIM_SYMBOLOGY = {
    "]E0": "ean13", "]E1": "ean13", "]E2": "ean13", "]E3": "ean13", "]E4": "ean8",
    "]C0": "code128", "]C1": "gs1-128", "]C2": "code128",
    "]e0": "databar", "]e1": "databar", "]e2": "databar",
    "]Q0": "qr", "]Q1": "qr", "]Q2": "qr", "]Q3": "gs1-qr", "]Q4": "qr", "]Q5": "gs1-qr",
    "]d1": "datamatrix", "]d2": "gs1-datamatrix",
    "]I0": "itf", "]I1": "itf14", "]I3": "itf",
    "]A0": "code39", "]F0": "codabar", "]G0": "code93", "]L0": "pdf417", "]z0": "aztec", "]J1": "gs1-dotcode",
}


def split_aim(text: str) -> tuple[str, str | None]:
    """Remove an AIM identifier: ``"]E06901234567892"`` -> ``("6901234567892", "ean13")``.

    ``]E0`` also carries UPC-A (13 digits with a leading 0: ``upca``) and UPC-E (8 digits:
    ``upce``); ``]E3`` is EAN/UPC with its add-on in one transmission: the add-on is dropped.
    Text without an identifier comes back unchanged with ``None``.
    """
    if len(text) < 3 or text[0] != "]" or not text[1].isalpha() or not text[2].isalnum():
        return text, None
    aim, body = text[:3], text[3:]
    name = AIM_SYMBOLOGY.get(aim)
    if aim == "]E0" and body.isdigit():
        if len(body) == 8:
            name = "upce"
        elif len(body) == 12 or (len(body) == 13 and body.startswith("0")):
            name = "upca"
    elif aim == "]E3" and body.isdigit() and len(body) in (15, 18):
        body = body[:13]
    return body, name or AIM_SYMBOLOGY.get(aim[:2] + "0")


class KeyDecoder:
    """Key events in, finished scans out (sans-I/O; the thread and the tests both feed it)."""

    def __init__(self, key_gap_s: float = 0.1, max_len: int = MAX_SCAN) -> None:
        self.key_gap_s = key_gap_s
        self.max_len = max_len
        self.dropped = 0  # scans thrown away: too long, or broken by a pause
        self.broken = 0  # of those, scans broken by a pause longer than key_gap_s
        self._chars: list[str] = []
        self._overflow = False
        self._broken = False
        self._last_ts: float | None = None
        self._shift: set[int] = set()
        self._ctrl: set[int] = set()
        self._alt = False
        self._alt_digits = ""
        self._caps = False

    def reset(self) -> None:
        self._chars.clear()
        self._overflow = False
        self._broken = False
        self._alt_digits = ""

    def feed(self, ev_type: int, code: int, value: int, ts: float) -> str | None:
        """One input event; returns the text of a scan when this event completes one."""
        if ev_type != EV_KEY:
            return None
        if code in (KEY_LEFTSHIFT, KEY_RIGHTSHIFT):
            (self._shift.add if value else self._shift.discard)(code)
            return None
        if code in (KEY_LEFTCTRL, KEY_RIGHTCTRL):
            (self._ctrl.add if value else self._ctrl.discard)(code)
            return None
        if code == KEY_LEFTALT:
            if value == KEY_DOWN:
                self._alt, self._alt_digits = True, ""
            elif value == KEY_UP:
                self._alt = False
                if self._alt_digits:  # Alt + keypad number = that character (Alt+029 = GS)
                    self._put(chr(int(self._alt_digits) % 256), ts)
                self._alt_digits = ""
            return None
        if value != KEY_DOWN:  # releases; holds are auto-repeat of a stuck key, not scanner data
            return None
        if code == KEY_CAPSLOCK:
            self._caps = not self._caps
            return None
        if self._last_ts is not None and ts - self._last_ts > self.key_gap_s and (self._chars or self._overflow):
            # keys too slow for a scanner: a scan with a hole in it (or a person typing); what
            # follows is not a scan of its own, so the whole buffer is dropped at its Enter
            self._broken = True
        self._last_ts = ts
        if code in (KEY_ENTER, KEY_KPENTER):
            return self._finish()
        if self._alt and code in KEYPAD and KEYPAD[code].isdigit():
            self._alt_digits = (self._alt_digits + KEYPAD[code])[-3:]
            return None
        if code in KEYPAD:
            self._put(KEYPAD[code], ts)
        elif code in KEYMAP:
            plain, shifted = KEYMAP[code]
            if self._ctrl:  # Ctrl+] is GS (FNC1); Ctrl+letter is a control character
                control = _CTRL.get(plain) or (chr(ord(plain) - 96) if plain.isalpha() else None)
                if control:
                    self._put(control, ts)
                return None
            upper = bool(self._shift) != (self._caps and plain.isalpha())
            self._put(shifted if upper else plain, ts)
        elif code == KEY_TAB:
            self._put("\t", ts)
        return None

    def _put(self, char: str, ts: float) -> None:
        self._last_ts = ts
        if len(self._chars) >= self.max_len:
            self._overflow = True
            return
        self._chars.append(char)

    def _finish(self) -> str | None:
        text = "".join(self._chars)
        overflow, broken = self._overflow, self._broken
        self.reset()
        if broken:
            self.dropped += 1
            self.broken += 1
            log.warning("scanner paused for more than %.3f s inside a scan (%d characters); ignored",
                        self.key_gap_s, len(text))
            return None
        if not text:
            return None
        if overflow:
            self.dropped += 1
            log.warning("scanner sent more than %d characters; ignored", self.max_len)
            return None
        return text


def decode_events(events: Iterable[Any], decoder: KeyDecoder | None = None) -> list[str]:
    """The scans in a sequence of evdev ``InputEvent``s (or objects with the same fields)."""
    decoder = decoder or KeyDecoder()
    out = []
    for ev in events:
        text = decoder.feed(ev.type, ev.code, ev.value, ev.timestamp())
        if text is not None:
            out.append(text)
    return out


def scan_event(text: str) -> Scanned | None:
    """The ``Scanned`` event for a finished scan text, or None when it cannot be a scan."""
    body, symbology = split_aim(text)
    body = body.strip(" ")
    if clean_text(body) is None:
        return None
    return Scanned(body, source="hid", symbology=symbology)


# --------------------------------------------------------------------------- the device

class InputLike(Protocol):
    """What the thread needs of an ``evdev.InputDevice`` (tests pass a pipe-backed fake)."""

    path: str
    name: str

    def fileno(self) -> int: ...

    def read(self) -> Iterable[Any]: ...

    def grab(self) -> None: ...

    def ungrab(self) -> None: ...

    def close(self) -> None: ...


SCANNER_WORDS = ("barcode", "scanner", "reader", "honeywell", "zebra", "symbol", "datalogic", "newland")


def find_scanners() -> list[str]:
    """Input devices whose name says they are a barcode scanner (``device = "auto"``)."""
    try:
        import evdev
    except ImportError:
        return []
    found = []
    for path in evdev.list_devices():
        try:
            dev = evdev.InputDevice(path)
        except OSError:
            continue
        try:
            name = (dev.name or "").lower()
            keys = dev.capabilities().get(EV_KEY, [])
        except OSError as exc:  # unplugged between listing and asking (ENODEV): not there
            log.debug("input device %s vanished while probed: %s", path, exc)
            continue
        finally:
            try:
                dev.close()
            except OSError:
                pass
        if any(w in name for w in SCANNER_WORDS) and KEY_ENTER in keys:
            found.append(path)
    return found


def _open_evdev(path: str) -> InputLike:
    import evdev

    device: InputLike = evdev.InputDevice(path)  # type: ignore[assignment]  # evdev types path as str | bytes
    return device


@dataclass
class _Node:
    device: InputLike
    decoder: KeyDecoder


class HidScanner:
    """The HID scanner thread (see the module docstring)."""

    def __init__(self, device: str, post: Post, *, grab: bool = True, key_gap_s: float = 0.1,
                 poll_s: float = 1.0, open_device: Callable[[str], InputLike] = _open_evdev,
                 find: Callable[[], list[str]] = find_scanners,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.device = device
        self.post = post
        self.grab = grab
        self.key_gap_s = key_gap_s
        self.poll_s = poll_s
        self.open_device = open_device
        self.find = find
        self.clock = clock
        self.state, self.reason = "starting", ""
        self.scans = 0
        self._rejected = 0
        self._overlong = 0
        self._broken = 0
        self._nodes: list[_Node] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_config(cls, section: ScannerSection, post: Post, **options: Any) -> HidScanner:
        options.setdefault("key_gap_s", section.key_gap_s)
        return cls(section.device, post, **options)

    def start(self) -> HidScanner:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="hid-scanner", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None
        self._release()

    def __enter__(self) -> HidScanner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dropped(self) -> int:
        """Scans thrown away: too long, broken by a pause, or not text a barcode can hold."""
        return self._rejected + self._overlong + sum(n.decoder.dropped for n in self._nodes)

    def health(self) -> dict[str, object]:
        return {"state": "ok" if self.state == "ok" else "fault" if self.state == "fault" else "warning",
                "reason": self.reason, "scans": self.scans, "dropped": self.dropped,
                "broken": self._broken + sum(n.decoder.broken for n in self._nodes),
                "nodes": [n.device.path for n in self._nodes]}

    # ------------------------------------------------------------------ thread

    def _set_state(self, state: str, reason: str = "") -> None:
        if (state, reason) != (self.state, self.reason):
            self.state, self.reason = state, reason
            (log.info if state == "ok" else log.warning)("scanner %s: %s %s", self.device, state, reason)
            self.post(DeviceState("scanner", state, reason))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._pass()
            except Exception:  # the thread must outlive any surprise: report, let go, retry
                log.exception("scanner %s: reader failed; retrying", self.device)
                self._release()
                try:
                    self._set_state("fault", "error")
                except Exception:
                    log.exception("scanner state listener failed")
                self._stop.wait(self.poll_s)

    def _pass(self) -> None:
        """One attach, read until gone, release."""
        problem = self._attach()
        if problem:
            self._set_state("fault", problem)
            self._stop.wait(self.poll_s)
            return
        self._set_state("ok")
        try:
            self._read_until_gone()
        finally:
            self._release()
        if not self._stop.is_set():
            self._set_state("fault", "unplugged")

    def _paths(self) -> list[str]:
        if self.device in ("", "auto"):
            return self.find()
        return [self.device] if os.path.exists(self.device) else []

    def _attach(self) -> str:
        """Open and grab the scanner's nodes; '' when done, else the fault reason."""
        paths = self._paths()
        if not paths:
            return "unplugged"
        for path in paths:
            try:
                device = self.open_device(path)
            except OSError as exc:
                self._release()
                return "no_permission" if exc.errno in (errno.EACCES, errno.EPERM) else "unplugged"
            if self.grab:
                try:
                    device.grab()
                except OSError:  # another process holds it (EBUSY)
                    device.close()
                    self._release()
                    return "busy"
            self._nodes.append(_Node(device, KeyDecoder(self.key_gap_s)))
        return ""

    def _release(self) -> None:
        self._overlong += sum(n.decoder.dropped for n in self._nodes)
        self._broken += sum(n.decoder.broken for n in self._nodes)
        for node in self._nodes:
            for action in (node.device.ungrab, node.device.close):
                try:
                    action()
                except (OSError, AttributeError):
                    pass
        self._nodes = []

    def _read_until_gone(self) -> None:
        by_fd = {node.device.fileno(): node for node in self._nodes}
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select(list(by_fd), [], [], 0.25)
            except (OSError, ValueError):
                return
            for fd in ready:
                node = by_fd[fd]
                try:
                    events = list(node.device.read())
                except BlockingIOError:
                    continue
                except OSError:  # ENODEV: unplugged
                    return
                for ev in events:
                    self._feed(node, ev)

    def _feed(self, node: _Node, ev: Any) -> None:
        ts = ev.timestamp() if hasattr(ev, "timestamp") else self.clock()
        broken = node.decoder.broken
        text = node.decoder.feed(ev.type, ev.code, ev.value, ts)
        if node.decoder.broken > broken:  # staff should know: a scanner that pauses mid-scan is flaky
            self._set_state("warning", "broken_scan")
        if text is None:
            return
        event = scan_event(text)
        if event is None:
            self._rejected += 1
            log.warning("scanner sent text that cannot be a barcode (%d characters); ignored", len(text))
            return
        self.scans += 1
        if self.state == "warning":
            self._set_state("ok")
        self.post(event)


def open_scanner(section: ScannerSection, post: Post, *, start: bool = True, **options: Any) -> HidScanner:
    """The configured HID scanner, started unless ``start=False``. Close it when done."""
    scanner = HidScanner.from_config(section, post, **options)
    return scanner.start() if start else scanner
