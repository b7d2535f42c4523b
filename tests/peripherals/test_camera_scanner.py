"""The camera scanner end to end (real capture, decode and accept threads) through faults:
one pack with two symbols, a USB hiccup under a product held still, a reopen that throws."""

from __future__ import annotations

import time

import cv2
import numpy as np

from kiosk.events import DeviceState, Scanned
from kiosk.peripherals.camera import CameraScanner, Code, FrameCapture, SourceEnded, SyntheticSource
from kiosk.peripherals.camera.capture import Frame
from kiosk.peripherals.camera.regions import Region
from tests.peripherals.test_camera_capture import Events, ended
from tests.peripherals.test_camera_decoder import F, frame_with, symbol

PACK_EAN = symbol("9501101531000", F.EAN13, 2)
PACK_QR = symbol("https://id.gs1.org/01/09501101531000", F.QRCode, 4)


def test_one_pack_with_an_ean13_and_a_digital_link_qr_is_one_scan():
    both = frame_with((PACK_EAN, 40, 150), (PACK_QR, 400, 150))
    events = Events()
    with CameraScanner(SyntheticSource.from_frames([both] * 30, fps=30), events):
        events.wait_for(ended(events))
    scans = [e for e in events.items if isinstance(e, Scanned)]
    assert len(scans) == 1
    assert scans[0].text in ("9501101531000", "https://id.gs1.org/01/09501101531000")


def test_a_product_held_still_through_a_usb_hiccup_is_scanned_once():
    held = frame_with((PACK_EAN, 150, 150))

    def make(n: int) -> np.ndarray | None:
        if n >= 60:
            raise SourceEnded("synthetic")
        return None if 30 <= n < 33 else held  # three failed reads: the capture reconnects

    events = Events()
    with CameraScanner(SyntheticSource(make, fps=30), events) as camera:
        camera.capture.backoff = (0.02, 0.05)
        events.wait_for(ended(events))
    assert ("fault", "unplugged") in events.states()
    assert events.states().count(("ok", "")) == 2
    assert events.scans() == ["9501101531000"]


class BusyOnReopen(SyntheticSource):
    """A camera whose first reopen after a USB reset throws cv2.error (V4L2: device busy)."""

    def open(self) -> None:
        if self.opens == 1 and not getattr(self, "thrown", False):
            self.thrown = True
            raise cv2.error("OpenCV(4.x) cap_v4l.cpp: VIDIOC_S_FMT: Device or resource busy")
        super().open()


def wait_until(test, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not test():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_cv2_error_on_reopen_is_an_unplug_and_frames_resume():
    image = np.full((48, 64, 3), 255, np.uint8)
    source = BusyOnReopen(lambda n: None if 10 <= n < 13 else image, fps=100)
    events = Events()
    capture = FrameCapture(source, backoff=(0.01, 0.02), on_state=lambda s, r: events(DeviceState("camera", s, r)))
    with capture:
        wait_until(lambda: source.opens >= 2 and capture.health()["frames"] >= 30)
        assert capture.running
        assert capture.health()["state"] == "ok"
    assert events.states()[:3] == [("ok", ""), ("fault", "unplugged"), ("ok", "")]


def test_an_error_in_a_frame_listener_does_not_stop_the_capture():
    image = np.full((48, 64, 3), 255, np.uint8)

    def listener(frame) -> None:
        if frame.seq == 3:
            raise RuntimeError("listener bug")

    capture = FrameCapture(SyntheticSource(lambda n: image, fps=100), on_frame=listener)
    with capture:
        wait_until(lambda: capture.health()["frames"] >= 10)
        assert capture.running


def test_the_decode_loop_survives_its_own_errors_and_reports_them():
    held = frame_with((PACK_EAN, 150, 150))
    events = Events()
    camera = CameraScanner(SyntheticSource(lambda n: held, fps=30), events)
    real_observe, calls = camera.acceptor.observe, {"n": 0}

    def observe(codes, ts, regions=()):
        calls["n"] += 1
        if calls["n"] <= 3:
            raise RuntimeError("acceptor bug")
        return real_observe(codes, ts, regions)

    camera.acceptor.observe = observe  # type: ignore[method-assign]
    with camera:
        events.wait_for(lambda items: len(events.scans()) == 1)
        assert camera.running
        wait_until(lambda: camera.health()["state"] == "ok")
    assert ("fault", "decoder") in events.states()
    assert events.states()[-1] == ("ok", "")


def test_health_reports_a_fault_when_a_thread_has_died():
    image = np.full((48, 64, 3), 255, np.uint8)
    camera = CameraScanner(SyntheticSource(lambda n: image, fps=50), Events())
    with camera:
        wait_until(lambda: camera.health()["state"] == "ok")
        camera._stop.set()  # the decode thread leaves as if it had died
        wait_until(lambda: not camera.running)
        camera._stop.clear()
        assert (camera.health()["state"], camera.health()["reason"]) == ("fault", "decoder_stopped")
    capture = FrameCapture(SyntheticSource(lambda n: image, fps=50))
    with capture:
        wait_until(lambda: capture.health()["state"] == "ok")
        capture._stop.set()
        wait_until(lambda: not capture.running)
        capture._stop.clear()
        assert (capture.health()["state"], capture.health()["reason"]) == ("fault", "capture_stopped")


class Intermittent:
    """A decoder that reads the pack only in some frames but still finds its bar region in the
    others (glare, the frame edge), as ``Decoder.last_regions`` reports it."""

    def __init__(self, reads: set[int], region_in: set[int]) -> None:
        self.reads, self.region_in, self.n = reads, region_in, 0
        self.last_regions: list[Region] = []

    def decode(self, image: np.ndarray) -> list[Code]:
        n, self.n = self.n, self.n + 1
        self.last_regions = [Region(150, 130, 200, 60, 0.0, "bars", 1.0)] if n in self.region_in else []
        return [Code("ean13", "9501101531000", ((50, 100), (250, 100), (250, 160), (50, 160)), "zxing")] \
            if n in self.reads else []


def run_frames(decoder: Intermittent, frames: int, step: float = 1 / 30, region_hold_s: float = 10.0) -> list[str]:
    events = Events()
    camera = CameraScanner(SyntheticSource(lambda n: None), events, decoder=decoder,  # type: ignore[arg-type]
                           region_hold_s=region_hold_s)
    image = np.zeros((8, 8, 3), np.uint8)
    for i in range(frames):
        camera._decode(Frame(image, i + 1, i * step))
    return events.scans()


def test_an_unread_region_over_the_pack_keeps_it_in_view():
    # read in pairs every 1.2 s (frames 0-1, 36-37, 72-73): its region is found in between
    reads = {0, 1, 36, 37, 72, 73}
    assert run_frames(Intermittent(reads, set(range(90)) - reads), 90) == ["9501101531000"]
    # without the regions it looks like a pack shown three times
    assert run_frames(Intermittent(reads, set()), 90) == ["9501101531000"] * 3


def test_a_pack_taken_away_and_shown_again_is_scanned_again():
    reads = {0, 1, 2, 3, 60, 61, 62}
    # its region goes with it: frames 4-59 (1.9 s) show nothing
    assert run_frames(Intermittent(reads, set()), 70) == ["9501101531000"] * 2
