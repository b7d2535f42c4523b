"""The camera as a scanner: capture thread -> decode thread -> ``Scanned`` events.

``CameraScanner`` owns a ``FrameCapture`` and one decoding thread. The decoding thread always
takes the newest frame (frames that arrived while it was busy are skipped, never queued), runs
the ``Decoder``, feeds the ``Acceptor`` with the frame's capture time and the regions the decoder
found but could not read (they keep a code in view, see ``acceptor``), and posts
``Scanned(text, "camera", symbology)`` for every accepted code and ``DeviceState("camera", ...)``
when the camera comes, goes or stops sending frames. It never touches the UI: the UI pulls a
``Preview`` when it wants one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.config import BarcodesSection, CameraSection
from kiosk.events import DeviceState, Post, Scanned
from kiosk.peripherals.camera.acceptor import Accepted, Acceptor
from kiosk.peripherals.camera.capture import Frame, FrameCapture, FrameSource, OpenCVSource
from kiosk.peripherals.camera.decoder import Code, Decoder
from kiosk.peripherals.camera.preview import Preview, make_preview

log = logging.getLogger("kiosk.camera")


@dataclass(frozen=True, slots=True)
class Decoded:
    """One decoded frame, as kept for the preview and for ``on_decoded`` listeners."""

    frame: Frame
    codes: tuple[Code, ...]
    accepted: tuple[Accepted, ...]
    done: frozenset[str]  # values in this frame already accepted (now or earlier, still in view)
    ms: float


class CameraScanner:
    """Capture + decode + accept; ``start()``, then ``close()`` (or use it as a context manager)."""

    def __init__(self, source: FrameSource, post: Post, *, consensus_frames: int = 2,
                 rescan_gap_s: float = 1.0, no_frame_alert_s: float = 5.0,
                 barcodes: BarcodesSection | None = None, decoder: Decoder | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 on_decoded: Callable[[Decoded], None] | None = None, region_hold_s: float = 0.0) -> None:
        self.post = post
        self.capture = FrameCapture(source, no_frame_alert_s=no_frame_alert_s, on_state=self._device_state,
                                    clock=clock)
        self.decoder = decoder or Decoder()
        self.acceptor = Acceptor(consensus_frames, rescan_gap_s, settings=barcodes, region_hold_s=region_hold_s)
        self.on_decoded = on_decoded
        self.frames_decoded = 0
        self.frames_skipped = 0
        self.decode_ms = 0.0  # moving average
        self._last: Decoded | None = None
        self._reset = False
        self._decode_fault = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_config(cls, section: CameraSection, post: Post, *, barcodes: BarcodesSection | None = None,
                    source: FrameSource | None = None, **options) -> CameraScanner:
        """The configured camera (``section.device``: an index, a /dev/video path, or a video file,
        which is played at its own frame rate as if it were a live camera)."""
        if source is None:
            source = OpenCVSource(section.device, section.width, section.height, section.fps,
                                  exposure=None if section.exposure < 0 else section.exposure,
                                  focus=None if section.focus < 0 else section.focus)
            source.pace = not source.is_camera
        return cls(source, post, consensus_frames=section.consensus_frames, rescan_gap_s=section.rescan_gap_s,
                   no_frame_alert_s=section.no_frame_alert_s, barcodes=barcodes,
                   region_hold_s=section.region_hold_s, **options)

    # ------------------------------------------------------------------ life

    def start(self) -> CameraScanner:
        if self._thread is None:
            self.capture.start()
            self._thread = threading.Thread(target=self._run, name="camera-decode", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self.capture.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> CameraScanner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ for the UI and health

    def preview(self, width: int = 320, rgb: bool = False) -> Preview | None:
        """The newest decoded frame, downscaled, with its codes outlined; None before the first.

        Call it from the UI thread at the UI's own rate (10-15 per second is plenty)."""
        with self._lock:
            last = self._last
        if last is None:
            return None
        return make_preview(last.frame.image, last.codes, width=width, accepted=last.done, seq=last.frame.seq,
                            ts=last.frame.ts, rgb=rgb)

    def health(self) -> dict[str, object]:
        out = self.capture.health()
        if self._thread is not None and not self.running and not self.capture.ended and not self._stop.is_set():
            out.update(state="fault", reason="decoder_stopped")  # the decode thread died
        elif self._decode_fault and out["state"] == "ok":
            out.update(state="fault", reason="decoder")
        out.update(decode_ms=round(self.decode_ms, 2), frames_decoded=self.frames_decoded,
                   frames_skipped=self.frames_skipped)
        return out

    # ------------------------------------------------------------------ threads

    def _device_state(self, state: str, reason: str) -> None:
        if state == "ok":
            # reads from before a gap are not consensus evidence now; accepted codes stay locked
            # (a pack lying still under the camera through a USB hiccup is not added again)
            self._reset = True
        self.post(DeviceState("camera", state, reason))

    def _run(self) -> None:
        seq = 0
        while not self._stop.is_set():
            try:
                frame = self.capture.wait_next(seq, timeout=0.25)
                if frame is None:
                    if self.capture.ended:
                        return
                    continue
                if seq and frame.seq > seq + 1:
                    self.frames_skipped += frame.seq - seq - 1
                seq = frame.seq
                self._decode(frame)
                if self._decode_fault:
                    self._decode_fault = False
                    if self.capture.state == "ok":
                        self.post(DeviceState("camera", "ok", ""))
            except Exception:  # a bug in accepting or posting costs a frame, never the camera
                log.exception("camera decode loop failed")
                if not self._decode_fault:
                    self._decode_fault = True
                    try:
                        self.post(DeviceState("camera", "fault", "decoder"))
                    except Exception:
                        log.exception("posting the camera state failed")
                self._stop.wait(0.05)  # a fault on every frame must not spin a core

    def _decode(self, frame: Frame) -> None:
        start = time.perf_counter()
        try:
            codes = self.decoder.decode(frame.image)
        except Exception:  # a decoder bug costs a frame, never the camera
            log.exception("decoding a camera frame failed")
            return
        if self._reset:
            self._reset = False
            self.acceptor.reset(frame.ts)
        # bar and matrix regions the decoder found but did not read keep a code under them in view
        # (glare, the frame edge): it is not added again until it has really left
        regions = [region.polygon().tolist() for region in getattr(self.decoder, "last_regions", ())]
        accepted = self.acceptor.observe(codes, frame.ts, regions)
        for item in accepted:
            log.info("camera scan accepted: %s %s", item.symbology, _loggable(item.text))
            self.post(Scanned(item.text, source="camera", symbology=item.symbology))
        ms = (time.perf_counter() - start) * 1000
        self.frames_decoded += 1
        self.decode_ms = ms if self.frames_decoded == 1 else 0.9 * self.decode_ms + 0.1 * ms
        done = frozenset(c.text for c in codes if self.acceptor.is_accepted(c))
        decoded = Decoded(frame, tuple(codes), tuple(accepted), done, ms)
        with self._lock:
            self._last = decoded
        if self.on_decoded is not None:
            self.on_decoded(decoded)


def _loggable(text: str) -> str:
    """Product numbers are fine in logs; member and staff codes may hold phone numbers or PINs."""
    return text if text[:1].isdigit() or text.startswith("(") else text[:2] + "***"
