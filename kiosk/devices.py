"""The lane's devices, as configured (``KioskDevices``) or simulated (``SimulatedDevices``).

Both start every device's thread, plug it into the lane (events go to ``lane.post``; the light,
buzzer and printer become the lane's effect handlers) and report health for the fleet. The
simulated set speaks the same protocols: the produce scale is a Toledo (or configured) scale on a
pty read through pyserial, and the light, help button and buzzer sit on gpiozero's mock pins.
"""

from __future__ import annotations

import logging
import threading
import warnings
from pathlib import Path
from typing import Any

from kiosk.config import Config
from kiosk.events import ScaleRole
from kiosk.lane import Lane

log = logging.getLogger("kiosk.devices")


class Devices:
    """What every device set has: start, health, close (idempotent)."""

    def __init__(self) -> None:
        self.scales: list[Any] = []
        self.gpio: Any = None
        self.camera: Any = None
        self.scanner: Any = None
        self.printer: Any = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _plug_gpio(self, config: Config, lane: Lane, pin_factory: Any = None) -> None:
        from kiosk.peripherals.gpio import LaneGpio

        with warnings.catch_warnings():  # gpiozero warns about each pin factory it tries
            warnings.simplefilter("ignore")
            self.gpio = LaneGpio.from_config(config.gpio, lane.post, pin_factory=pin_factory)
        lane.light = self.gpio.light.show
        lane.sound = self.gpio.buzzer.play
        self.gpio.light.show(lane.light_pattern)

    def _watch_printer(self) -> None:
        thread = threading.Thread(target=self.printer.watch, args=(self._stop,), name="printer-status",
                                  daemon=True)
        thread.start()
        self._threads.append(thread)

    def health(self) -> dict[str, Any]:
        """Per-device detail for the fleet's health message (camera fps, frame age ...)."""
        out: dict[str, Any] = {}
        if self.camera is not None:
            out["camera"] = self.camera.health()
        for scale in self.scales:
            state = scale.health
            out[scale.device] = {"state": state[0], "reason": state[1]} if state else {"state": "starting"}
        return out

    def close(self) -> None:
        self._stop.set()
        for device in (self.camera, self.scanner, *self.scales, self.printer, self.gpio):
            if device is not None:
                try:
                    device.close()
                except Exception:  # closing one device must not keep the others open
                    log.exception("closing %s failed", type(device).__name__)
        for thread in self._threads:
            thread.join(timeout=2)
        self.scales, self.camera, self.scanner, self.printer, self.gpio = [], None, None, None, None


class KioskDevices(Devices):
    """The devices named in the configuration: camera, HID scanner, scales, printer, GPIO."""

    def start(self, config: Config, lane: Lane) -> KioskDevices:
        try:
            if config.camera.enabled:
                from kiosk.peripherals.camera import open_camera
                self.camera = open_camera(config.camera, lane.post, barcodes=config.barcodes)
            if config.scanner.enabled:
                from kiosk.peripherals.hid_scanner import HidScanner
                self.scanner = HidScanner.from_config(config.scanner, lane.post).start()
            if config.scale.enabled or config.security.enabled:
                from kiosk.peripherals.scale import open_scale
                if config.scale.enabled:
                    self.scales.append(open_scale(config.scale, ScaleRole.PRODUCE, lane.post))
                if config.security.enabled and config.bagging_scale.enabled:
                    self.scales.append(open_scale(config.bagging_scale, ScaleRole.BAGGING, lane.post))
            if config.printer.enabled:
                from kiosk.peripherals.printer import ReceiptPrinter
                self.printer = ReceiptPrinter.from_config(config, post=lane.post)
                lane.printer = self.printer
                self._watch_printer()
            if config.gpio.enabled:
                self._plug_gpio(config, lane)
        except BaseException:
            self.close()
            raise
        return self


class SimulatedDevices(Devices):
    """``--simulate``: a produce scale (and a bagging scale when security is on) on ptys, the
    printer to ``receipts_dir`` (raw ESC/POS plus a PNG per receipt), GPIO on mock pins."""

    def start(self, config: Config, lane: Lane, receipts_dir: Path | None = None) -> SimulatedDevices:
        from gpiozero.pins.mock import MockFactory

        from kiosk.peripherals.scale import open_scale

        try:
            self.scales.append(open_scale(config.scale, ScaleRole.PRODUCE, lane.post, simulate=True))
            if config.security.enabled:
                self.scales.append(open_scale(config.bagging_scale, ScaleRole.BAGGING, lane.post, simulate=True))
            if receipts_dir is not None:
                from kiosk.peripherals.printer import ReceiptPrinter
                try:
                    self.printer = ReceiptPrinter.simulated(config, receipts_dir, post=lane.post)
                    lane.printer = self.printer
                except OSError as exc:
                    log.warning("simulated printer unavailable (%s): receipts will not be kept", exc)
            self._plug_gpio(config, lane, MockFactory())
        except BaseException:
            self.close()
            raise
        log.info("simulated produce scale (%s) on %s", config.scale.protocol, self.scales[0].simulator.path)
        return self

    def place_produce(self, grams: int) -> None:
        """Put ``grams`` on the simulated produce scale's platter."""
        self.scales[0].simulator.place(grams)
