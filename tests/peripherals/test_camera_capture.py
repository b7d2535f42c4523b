"""The real capture and decode threads against synthetic cameras and a video file.

Waits are on events with generous time-outs; nothing asserts how fast anything is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.config import CameraSection
from kiosk.errors import DeviceError
from kiosk.events import DeviceState, Scanned
from kiosk.peripherals.camera import (
    CameraScanner,
    Code,
    Decoder,
    FrameCapture,
    OpenCVSource,
    SourceEnded,
    SyntheticSource,
    open_camera,
)
from tests.peripherals.test_camera_decoder import F, frame_with, symbol
from tests.support import EventLog

MILK = frame_with((symbol("690123456789", F.EAN13, 2), 200, 150))
BREAD = frame_with((symbol("590123412345", F.EAN13, 2), 300, 250))
EMPTY = frame_with()


class Events(EventLog):
    """The core's queue, as a test sees it."""


    def wait_for(self, test: Callable[[list[object]], bool], timeout: float = 10.0) -> list[object]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not test(self.items):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; events so far: {self.items}")
                self._cond.wait(left)
            return list(self.items)

    def scans(self) -> list[str]:
        with self._cond:
            return [e.text for e in self.items if isinstance(e, Scanned)]

    def states(self) -> list[tuple[str, str]]:
        with self._cond:
            return [(e.state, e.reason) for e in self.items if isinstance(e, DeviceState)]


def scripted(script: list[tuple[np.ndarray, int]], fps: float = 30) -> SyntheticSource:
    """A camera showing each frame for the given number of frames, then ending."""
    frames = [image for image, count in script for _ in range(count)]
    return SyntheticSource.from_frames(frames, fps=fps)


def ended(events: Events) -> Callable[[list[object]], bool]:
    return lambda items: ("fault", "ended") in events.states()


# ------------------------------------------------------------------ the capture thread


def test_latest_frame_semantics_skip_what_a_slow_reader_missed():
    numbered = [np.full((48, 64, 3), i % 256, np.uint8) for i in range(400)]
    capture = FrameCapture(SyntheticSource.from_frames(numbered, fps=200)).start()
    try:
        first = capture.wait_next(0, timeout=5)
        assert first is not None
        time.sleep(0.2)  # a slow decoder: frames keep coming meanwhile
        newest = capture.wait_next(first.seq, timeout=5)
        assert newest is not None and newest.seq > first.seq + 1  # never the stale next one
        assert newest.seq == capture.latest().seq or newest.seq < capture.latest().seq
    finally:
        capture.close()


def test_frame_rate_and_last_frame_age_are_reported():
    capture = FrameCapture(SyntheticSource(lambda n: EMPTY, fps=50)).start()
    try:
        deadline = time.monotonic() + 10
        while capture.health()["frames"] < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        health = capture.health()
        assert health["state"] == "ok" and health["fps"] > 0 and health["last_frame_age_s"] is not None
    finally:
        capture.close()


def test_reconnects_after_the_camera_is_unplugged_and_comes_back():
    events = Events()
    source = SyntheticSource(lambda n: EMPTY, fps=60)
    capture = FrameCapture(source, on_state=lambda s, r: events(DeviceState("camera", s, r)),
                           backoff=(0.02, 0.1)).start()
    try:
        events.wait_for(lambda items: ("ok", "") in events.states())
        source.unplugged = True  # reads fail, and so does reopening
        events.wait_for(lambda items: ("fault", "unplugged") in events.states())
        opens = source.opens
        source.unplugged = False
        events.wait_for(lambda items: events.states()[-1] == ("ok", ""))
        assert source.opens > opens and capture.reconnects >= 1
        assert events.states() == [("ok", ""), ("fault", "unplugged"), ("ok", "")]
    finally:
        capture.close()


def test_no_frames_raises_an_alert_and_frames_clear_it():
    gate = threading.Event()
    gate.set()

    def make(n: int) -> np.ndarray:
        gate.wait()  # a camera that stops delivering without an error (a hung USB device)
        return EMPTY

    events = Events()
    capture = FrameCapture(SyntheticSource(make, fps=60), no_frame_alert_s=0.3,
                           on_state=lambda s, r: events(DeviceState("camera", s, r))).start()
    try:
        events.wait_for(lambda items: ("ok", "") in events.states())
        gate.clear()
        events.wait_for(lambda items: ("fault", "no_frames") in events.states())
        assert capture.health()["fps"] == 0
        gate.set()
        events.wait_for(lambda items: events.states()[-1] == ("ok", ""))
    finally:
        gate.set()
        capture.close()


def test_a_camera_that_is_missing_at_start_is_waited_for():
    events = Events()
    source = SyntheticSource(lambda n: EMPTY, fps=60)
    source.unplugged = True
    capture = FrameCapture(source, on_state=lambda s, r: events(DeviceState("camera", s, r)),
                           backoff=(0.02, 0.05)).start()
    try:
        events.wait_for(lambda items: ("fault", "unplugged") in events.states())
        source.unplugged = False
        events.wait_for(lambda items: ("ok", "") in events.states())
    finally:
        capture.close()


def test_garbage_from_the_camera_is_survived():
    junk = [None, np.zeros((0, 0, 3), np.uint8), "not a frame", EMPTY]

    def make(n: int):
        if n == 7:
            raise OSError("USB hiccup")
        return junk[n % len(junk)]

    events = Events()
    capture = FrameCapture(SyntheticSource(make, fps=100), backoff=(0.01, 0.02),
                           on_state=lambda s, r: events(DeviceState("camera", s, r))).start()
    try:
        deadline = time.monotonic() + 10
        while capture.health()["frames"] < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert capture.health()["frames"] >= 10  # only the real frames count
    finally:
        capture.close()


def test_a_video_file_plays_to_its_end(tmp_path: Path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    for _ in range(12):
        writer.write(MILK)
    writer.release()
    events = Events()
    capture = FrameCapture(OpenCVSource(str(path)), on_state=lambda s, r: events(DeviceState("camera", s, r)))
    with capture:
        events.wait_for(ended(events))
    assert capture.health()["frames"] == 12


def test_a_missing_video_file_is_a_device_error():
    with pytest.raises(DeviceError):
        OpenCVSource("/nonexistent/clip.avi").open()


# ------------------------------------------------------------------ capture -> decode -> scans


def test_a_product_shown_is_scanned_once():
    events = Events()
    with CameraScanner(scripted([(EMPTY, 10), (MILK, 40), (EMPTY, 10)]), events) as camera:
        events.wait_for(ended(events))
        health = camera.health()
    assert events.scans() == ["6901234567892"]
    assert health["frames_decoded"] > 0


def test_a_product_held_in_view_is_not_added_twice():
    events = Events()
    with CameraScanner(scripted([(MILK, 150)]), events, rescan_gap_s=0.5):
        events.wait_for(ended(events))
    assert events.scans() == ["6901234567892"]


def test_a_deliberate_rescan_after_leaving_view_adds_again():
    events = Events()
    script = [(MILK, 30), (EMPTY, 45), (MILK, 30)]  # gone for 1.5 s, gap 0.5 s
    with CameraScanner(scripted(script), events, rescan_gap_s=0.5):
        events.wait_for(ended(events))
    assert events.scans() == ["6901234567892", "6901234567892"]


class FlakyDecoder(Decoder):
    """The real decoder, but every 5th frame it 'reads' a wrong number with a valid check digit."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def decode(self, frame):  # type: ignore[override]
        self.calls += 1
        codes = super().decode(frame)
        if codes and self.calls % 5 == 0:
            return [Code("ean13", "6901234567885", codes[0].polygon, "zbar", quality=9)]
        return codes


def test_a_misread_frame_never_becomes_an_item():
    events = Events()
    with CameraScanner(scripted([(MILK, 60), (EMPTY, 10)]), events, decoder=FlakyDecoder()):
        events.wait_for(ended(events))
    assert events.scans() == ["6901234567892"]


def test_bad_frames_and_junk_codes_add_nothing():
    qr_binary = frame_with((symbol(b"\x00\xff\x1b[2Jjunk", F.QRCode, 4), 200, 150))
    qr_control = frame_with((symbol("M138\x07\x1b[31m", F.QRCode, 4), 200, 150))
    qr_long = frame_with((symbol("M" + "9" * 600, F.QRCode, 2), 100, 40))
    odd = [np.zeros((0, 0, 3), np.uint8), np.zeros((1, 1, 3), np.uint8), np.zeros((480, 640, 4), np.uint8)]
    frames = [qr_binary] * 10 + [qr_control] * 10 + [qr_long] * 10 + odd * 5 + [EMPTY] * 5
    events = Events()
    with CameraScanner(SyntheticSource.from_frames(frames, fps=60), events) as camera:
        events.wait_for(ended(events))
        assert camera.acceptor.rejected > 0  # they were read, and refused
    assert events.scans() == []


def test_the_preview_is_downscaled_with_the_code_outlined():
    events = Events()
    camera = CameraScanner(SyntheticSource(lambda n: MILK, fps=30), events)
    with camera:
        events.wait_for(lambda items: bool(events.scans()))
        deadline = time.monotonic() + 10
        preview = camera.preview(width=320)
        while (preview is None or not preview.codes) and time.monotonic() < deadline:
            time.sleep(0.02)
            preview = camera.preview(width=320)
    assert preview is not None and preview.image.shape == (240, 320, 3) and preview.scale == 0.5
    (code,) = preview.codes
    assert all(0 <= x <= 320 and 0 <= y <= 240 for x, y in code.polygon)
    x, y = code.polygon[0]
    assert tuple(preview.image[y, x]) != tuple(cv2.resize(MILK, (320, 240), interpolation=cv2.INTER_AREA)[y, x])


def test_open_camera_from_config_with_a_missing_camera_reports_unplugged():
    events = Events()
    source = SyntheticSource(lambda n: EMPTY)
    source.unplugged = True
    camera = open_camera(CameraSection(device="7"), events, source=source)
    try:
        events.wait_for(lambda items: ("fault", "unplugged") in events.states())
        assert camera.running
    finally:
        camera.close()


def test_source_ended_is_the_end_of_a_synthetic_camera():
    source = SyntheticSource.from_frames([EMPTY])
    source.open()
    assert source.read() is EMPTY
    with pytest.raises(SourceEnded):
        source.read()
