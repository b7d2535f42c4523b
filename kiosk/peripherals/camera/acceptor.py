"""When a code seen by the camera becomes a scan: consensus, re-scan lock, admissibility.

Pure: codes and frame times in, accepted scans out; no clock, no threads, no camera, so every
rule is tested by feeding frames with made-up times.

- A 1D code is accepted once the same value was read in ``consensus_frames`` frames (default 2),
  each within ``consensus_window_s`` of the one before; if another value was read at the same
  place meanwhile, it must lead that value by ``consensus_frames`` reads. zbar and zxing-cpp
  both sometimes return a wrong number with a valid check digit (DESIGN 6); one frame is not
  enough, and neither is winning a tie.
- QR codes carry Reed-Solomon error correction: accepted on one read.
- An accepted code is not accepted again while it stays in view; once it has not been read for
  ``rescan_gap_s`` it has left, and showing it again (a deliberate re-scan) adds it again.
- Only text that can be an item reaches the core: not binary payloads, not control characters
  (GS, the GS1 separator, excepted), not more than 512 characters, and not codes the barcode
  parser cannot place (a marketing QR on a pack must not beep "item not found"); see
  ``admissible``. The HID scanner applies the same text rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kiosk import barcodes
from kiosk.config import BarcodesSection

if TYPE_CHECKING:  # only its attributes are used: the HID scanner imports this module without cv2
    from kiosk.peripherals.camera.engines import Code

MAX_TEXT = barcodes.MAX_SCAN_CHARS
_CONTROL = re.compile(r"[\x00-\x1c\x1e\x1f\x7f-\x9f]")  # everything but GS (0x1d)


def clean_text(text: object) -> str | None:
    """The scan text if it is text a scanner could honestly send, else None."""
    if not isinstance(text, str) or not text or len(text) > MAX_TEXT:
        return None
    if _CONTROL.search(text) or "\ufffd" in text:
        return None
    return text


def admissible(code: Code, settings: BarcodesSection | None = None) -> bool:
    """True if ``code`` may become a scan: clean text that the barcode parser can place."""
    if code.binary or clean_text(code.text) is None:
        return False
    result = barcodes.parse_scan(code.text, settings, code.symbology)
    return result.kind is not barcodes.ScanKind.UNKNOWN


@dataclass(frozen=True, slots=True)
class Accepted:
    """A code accepted as a scan."""

    text: str
    symbology: str
    frame_ts: float  # capture time of the frame that completed the consensus
    first_ts: float  # capture time of the first read of this sighting


@dataclass
class _Track:
    code: Code
    first_ts: float
    last_ts: float
    count: int = 1
    accepted: bool = False
    centre: tuple[float, float] | None = None
    radius: float = 0.0


class Acceptor:
    """The consensus and re-scan rules over decoded frames (see the module docstring)."""

    def __init__(self, consensus_frames: int = 2, rescan_gap_s: float = 1.0, *,
                 consensus_window_s: float = 0.5, settings: BarcodesSection | None = None) -> None:
        if consensus_frames < 1:
            raise ValueError("consensus_frames must be at least 1")
        if rescan_gap_s < 0 or consensus_window_s <= 0:
            raise ValueError("rescan_gap_s must be >= 0 and consensus_window_s > 0")
        self.consensus_frames = consensus_frames
        self.rescan_gap_s = rescan_gap_s
        self.consensus_window_s = consensus_window_s
        self.settings = settings
        self.rejected = 0  # codes dropped as inadmissible (for health and the bench)
        self._tracks: dict[str, _Track] = {}
        self._verdicts: dict[tuple[str, str], bool] = {}

    def observe(self, codes: Iterable[Code], ts: float) -> list[Accepted]:
        """Feed the codes read in one frame captured at ``ts`` (seconds, monotonic)."""
        self._expire(ts)
        accepted: list[Accepted] = []
        seen: set[str] = set()
        for code in codes:
            if code.text in seen or not self._admissible(code):
                continue
            seen.add(code.text)
            track = self._tracks.get(code.text)
            if track is None:
                track = self._tracks[code.text] = _Track(code, ts, ts)
            else:
                track.count += 1
                track.last_ts = ts
                track.code = code
            track.centre, track.radius = _place(code)
            if track.accepted:
                continue
            if self._agreed(track, ts):
                track.accepted = True
                accepted.append(Accepted(code.text, code.symbology, ts, track.first_ts))
        return accepted

    def reset(self) -> None:
        """Forget everything in view (a new shopper, or the camera came back)."""
        self._tracks.clear()

    @property
    def in_view(self) -> list[str]:
        """Values seen recently (accepted or not)."""
        return list(self._tracks)

    def is_accepted(self, text: str) -> bool:
        """True while an accepted value is still in view (locked against a second add)."""
        track = self._tracks.get(text)
        return bool(track and track.accepted)

    # ------------------------------------------------------------------ rules

    def _admissible(self, code: Code) -> bool:
        key = (code.symbology, code.text)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = admissible(code, self.settings)
            if len(self._verdicts) > 4096:  # bounded: a stream of junk must not grow memory
                self._verdicts.clear()
            self._verdicts[key] = verdict
        if not verdict:
            self.rejected += 1
        return verdict

    def _agreed(self, track: _Track, ts: float) -> bool:
        if track.code.is_2d:
            return True
        # another value read at the same place while this one was: one of them is a misread, so
        # this one must lead it by the full consensus (no lead can come from a tie or a fluke)
        # (a value accepted there counts while it is still being read: a pack swapped for another
        # at the same spot stops being a rival half a second after it left)
        rival = max((other.count for other in self._tracks.values()
                     if other is not track and not other.code.is_2d and _same_place(track, other)
                     and ts - other.last_ts <= self.consensus_window_s), default=0)
        return track.count - rival >= self.consensus_frames

    def _expire(self, ts: float) -> None:
        for text, track in list(self._tracks.items()):
            idle = ts - track.last_ts
            limit = self.rescan_gap_s if track.accepted else self.consensus_window_s
            if idle > limit:  # (a frame time that ran backwards keeps the track: no re-add)
                del self._tracks[text]


def _place(code: Code) -> tuple[tuple[float, float] | None, float]:
    if not code.polygon:
        return None, 0.0
    xs = [p[0] for p in code.polygon]
    ys = [p[1] for p in code.polygon]
    radius = math.hypot(max(xs) - min(xs), max(ys) - min(ys)) / 2
    return (sum(xs) / len(xs), sum(ys) / len(ys)), radius


def _same_place(a: _Track, b: _Track) -> bool:
    if a.centre is None or b.centre is None:
        return False
    distance = math.hypot(a.centre[0] - b.centre[0], a.centre[1] - b.centre[1])
    return distance <= max(a.radius, b.radius, 8.0)
