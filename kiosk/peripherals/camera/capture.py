"""Frames from a camera on their own thread, newest first.

``FrameCapture`` reads a ``FrameSource`` as fast as it delivers and keeps only the newest
frame: a decoder that falls behind skips frames instead of working through a stale queue.
It measures the frame rate and the age of the last frame for health, reopens the source with
backoff when it fails (a camera unplugged, a USB reset), and reports a fault when no frame has
arrived for ``no_frame_alert_s``, as ``on_state(state, reason)`` transitions:
``("ok", "")``, ``("fault", "unplugged")``, ``("fault", "no_frames")``, ``("fault", "ended")``.

Sources: ``OpenCVSource`` (a V4L2 camera by index or path, or a video file, optionally paced at
its frame rate to emulate a live camera) and ``SyntheticSource`` (frames from a function, for
tests and demos). Times come from an injected monotonic clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from kiosk.errors import DeviceError

log = logging.getLogger("kiosk.camera")


@dataclass(frozen=True, slots=True)
class Frame:
    image: np.ndarray  # BGR, as the source delivered it
    seq: int  # 1, 2, 3 ... over the capture's life (gaps = frames nobody looked at)
    ts: float  # capture time on the capture's clock (seconds)


class SourceEnded(Exception):
    """A finite source (a video file) has no more frames."""


class FrameSource(Protocol):
    """Something that gives frames. ``read`` returns None when the device failed."""

    name: str

    def open(self) -> None: ...  # raises DeviceError (an OSError) when it cannot

    def read(self) -> np.ndarray | None: ...  # raises SourceEnded at the end of a file

    def close(self) -> None: ...


class OpenCVSource:
    """OpenCV ``VideoCapture``: ``"0"`` or ``"/dev/video0"`` open a V4L2 camera, anything else
    is a video file or stream URL. ``pace`` (files only) delivers frames at the file's frame rate,
    like a live camera; ``loop`` starts a file again at its end.

    ``exposure`` and ``focus`` are written only when given and only take where the driver allows
    (V4L2 ignores what a camera does not support); ``None`` leaves the camera's automatic modes.
    """

    def __init__(self, device: str, width: int = 640, height: int = 480, fps: float = 30, *,
                 exposure: float | None = None, focus: float | None = None,
                 pace: bool = False, loop: bool = False, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.device = str(device)
        self.name = self.device
        self.width, self.height, self.fps = width, height, fps
        self.exposure, self.focus = exposure, focus
        self.pace, self.loop = pace, loop
        self._clock, self._sleep = clock, sleep
        self._cap: cv2.VideoCapture | None = None
        self._next_due = 0.0
        self._interval = 0.0

    @property
    def is_camera(self) -> bool:
        return self.device.isdigit() or self.device.startswith("/dev/video")

    def open(self) -> None:
        self.close()
        _quiet_opencv()
        if self.is_camera:
            index: int | str = int(self.device) if self.device.isdigit() else self.device
            cap = cv2.VideoCapture(index, cv2.CAP_V4L2)
        else:
            if "://" not in self.device and not Path(self.device).is_file():
                raise DeviceError(f"no video file {self.device}")
            cap = cv2.VideoCapture(self.device)
        if not cap.isOpened():
            cap.release()
            raise DeviceError(f"cannot open camera {self.device}")
        if self.is_camera:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            cap.set(cv2.CAP_PROP_FPS, self.fps)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            if self.exposure is not None:
                cap.set(cv2.CAP_PROP_AUTO_EXPOSURE, 1)  # V4L2: 1 = manual, 3 = aperture priority
                cap.set(cv2.CAP_PROP_EXPOSURE, self.exposure)
            if self.focus is not None:
                cap.set(cv2.CAP_PROP_AUTOFOCUS, 0)
                cap.set(cv2.CAP_PROP_FOCUS, self.focus)
        file_fps = cap.get(cv2.CAP_PROP_FPS) or self.fps
        self._interval = 1.0 / file_fps if self.pace and file_fps > 0 else 0.0
        self._next_due = self._clock()
        self._cap = cap

    def read(self) -> np.ndarray | None:
        cap = self._cap
        if cap is None:
            return None
        if self._interval:
            wait = self._next_due - self._clock()
            if wait > 0:
                self._sleep(wait)
            self._next_due = max(self._next_due + self._interval, self._clock() - self._interval)
        ok, image = cap.read()
        if ok and image is not None and image.size:
            return image
        if self.is_camera:
            return None
        if self.loop:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = cap.read()
            if ok and image is not None and image.size:
                return image
        raise SourceEnded(self.device)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def _quiet_opencv() -> None:
    """OpenCV prints a warning on every failed open; with reconnect retries that floods the
    journal, and the capture thread reports the fault itself."""
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:  # builds without the logging module
        pass


class SyntheticSource:
    """Frames from ``make(n)`` (n = 0, 1, 2 ...), optionally paced at ``fps``.

    ``make`` may return None (the device failed: the capture reconnects), raise ``SourceEnded``,
    or raise ``DeviceError`` / ``OSError`` (also a failure). ``unplugged`` simulates a camera that
    is gone: ``open`` fails while it is set.
    """

    def __init__(self, make: Callable[[int], np.ndarray | None], fps: float = 0.0, *,
                 name: str = "synthetic", clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.make, self.fps, self.name = make, fps, name
        self.unplugged = False
        self.opens = 0
        self._n = 0
        self._clock, self._sleep = clock, sleep
        self._next_due = 0.0
        self._open = False

    @classmethod
    def from_frames(cls, frames: list[np.ndarray], fps: float = 0.0, loop: bool = False, **kw) -> SyntheticSource:
        def make(n: int) -> np.ndarray | None:
            if n >= len(frames) and not loop:
                raise SourceEnded("synthetic")
            return frames[n % len(frames)]
        return cls(make, fps, **kw)

    def open(self) -> None:
        if self.unplugged:
            raise DeviceError(f"camera {self.name} is unplugged")
        self.opens += 1
        self._open = True
        self._next_due = self._clock()

    def read(self) -> np.ndarray | None:
        if not self._open or self.unplugged:
            self._open = False
            return None
        if self.fps:
            wait = self._next_due - self._clock()
            if wait > 0:
                self._sleep(wait)
            self._next_due += 1.0 / self.fps
        n, self._n = self._n, self._n + 1  # a frame that failed is gone, as on a real camera
        return self.make(n)

    def close(self) -> None:
        self._open = False


class FrameCapture:
    """The capture thread (see the module docstring). ``start()`` once, ``close()`` when done."""

    def __init__(self, source: FrameSource, *, no_frame_alert_s: float = 5.0,
                 on_state: Callable[[str, str], None] | None = None,
                 on_frame: Callable[[Frame], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 backoff: tuple[float, float] = (0.25, 5.0)) -> None:
        self.source = source
        self.on_frame = on_frame  # every captured frame, on the capture thread (keep it short)
        self.no_frame_alert_s = no_frame_alert_s
        self.on_state = on_state
        self.clock = clock
        self.backoff = backoff
        self.state, self.reason = "starting", ""
        self.reconnects = 0
        self._latest: Frame | None = None
        self._seq = 0
        self._fps = 0.0
        self._started_at = 0.0
        self._cond = threading.Condition()
        self._state_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._ended = False

    # ------------------------------------------------------------------ public

    def start(self) -> FrameCapture:
        if self._threads:
            return self
        self._started_at = self.clock()
        for target, name in ((self._run, "camera-capture"), (self._watch, "camera-watchdog")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        self._threads = []
        try:
            self.source.close()
        except Exception:  # closing a dead device must not raise into shutdown
            log.debug("camera close failed", exc_info=True)

    def __enter__(self) -> FrameCapture:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def latest(self) -> Frame | None:
        with self._cond:
            return self._latest

    def wait_next(self, after_seq: int, timeout: float) -> Frame | None:
        """The newest frame newer than ``after_seq``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._stop.is_set():
                frame = self._latest
                if frame is not None and frame.seq > after_seq:
                    return frame
                if self._ended:
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
        return None

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def fps(self) -> float:
        return self._fps

    def last_frame_age(self) -> float | None:
        frame = self.latest()
        return None if frame is None else max(0.0, self.clock() - frame.ts)

    @property
    def running(self) -> bool:
        """Both threads alive (False before ``start``, after ``close``, and after a file's end)."""
        return bool(self._threads) and all(thread.is_alive() for thread in self._threads)

    def health(self) -> dict[str, object]:
        age = self.last_frame_age()
        state = "ok" if self.state == "ok" else ("fault" if self.state == "fault" else "warning")
        reason = self.reason
        if self._threads and not self._ended and not self._stop.is_set() and not self.running:
            state, reason = "fault", "capture_stopped"  # a thread died: nothing will recover it
        return {"state": state, "reason": reason, "fps": round(self._fps, 1),
                "last_frame_age_s": None if age is None else round(age, 3),
                "frames": self._seq, "reconnects": self.reconnects}

    # ------------------------------------------------------------------ threads

    def _set_state(self, state: str, reason: str = "") -> None:
        # the capture and the watchdog thread both report; the lock keeps the order of reports
        # the order of the changes (the listener only posts into a queue)
        with self._state_lock:
            if (state, reason) == (self.state, self.reason):
                return
            self.state, self.reason = state, reason
            if state == "fault":
                log.warning("camera %s: %s", self.source.name, reason)
            elif state == "ok":
                log.info("camera %s: frames arriving", self.source.name)
            if self.on_state is not None:
                try:
                    self.on_state(state, reason)
                except Exception:
                    log.exception("camera state listener failed")

    def _run(self) -> None:
        delay = self.backoff[0]
        while not self._stop.is_set():
            try:
                self.source.open()
            except Exception as exc:  # DeviceError/OSError, and cv2.error from a busy V4L2 device
                log.debug("camera open failed: %s", exc)
                self._close_source()
                self._set_state("fault", "unplugged")
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, self.backoff[1])
                continue
            delay = self.backoff[0]
            try:
                self._read_until_failure()
            except SourceEnded:
                self._ended = True
                self._set_state("fault", "ended")
                with self._cond:
                    self._cond.notify_all()
                break
            except Exception:  # anything else is a lost device too: reopen, with backoff
                log.exception("camera %s: capture failed; reopening", self.source.name)
            finally:
                self._close_source()
            if not self._stop.is_set():
                self.reconnects += 1
                self._set_state("fault", "unplugged")
                self._stop.wait(delay)

    def _close_source(self) -> None:
        try:
            self.source.close()
        except Exception:
            log.debug("camera close failed", exc_info=True)

    def _read_until_failure(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                image = self.source.read()
            except SourceEnded:
                raise
            except Exception as exc:  # OSError, cv2.error, a driver binding's surprise: a bad read
                log.debug("camera read failed: %s", exc)
                image = None
            if image is None or not isinstance(image, np.ndarray) or image.size == 0:
                failures += 1
                if failures >= 3:  # one bad read happens; three in a row is a lost device
                    return
                continue
            failures = 0
            self._publish(image)

    def _publish(self, image: np.ndarray) -> None:
        now = self.clock()
        with self._cond:
            previous = self._latest
            self._seq += 1
            self._latest = frame = Frame(image, self._seq, now)
            self._cond.notify_all()
        if self.on_frame is not None:
            try:
                self.on_frame(frame)
            except Exception:  # a listener's bug costs its own work, never the capture
                log.exception("camera frame listener failed")
        if previous is not None and now > previous.ts:
            rate = 1.0 / (now - previous.ts)
            self._fps = rate if self._fps == 0 else 0.9 * self._fps + 0.1 * rate
        if self.state != "ok":
            self._set_state("ok")

    def _watch(self) -> None:
        period = max(0.05, min(0.5, self.no_frame_alert_s / 4))
        while not self._stop.wait(period):
            if self._ended:
                return
            try:
                frame = self.latest()
                since = frame.ts if frame is not None else self._started_at
                if self.clock() - since > self.no_frame_alert_s and self.state != "fault":
                    self._fps = 0.0
                    self._set_state("fault", "no_frames")
            except Exception:  # the watchdog must outlive a bad clock or listener
                log.exception("camera watchdog failed")


def frames_of(source: FrameSource) -> Iterator[np.ndarray]:
    """Every frame of a finite source, in order, without a thread (for tools and tests)."""
    source.open()
    try:
        while True:
            try:
                image = source.read()
            except SourceEnded:
                return
            if image is None:
                return
            yield image
    finally:
        source.close()
