"""When a code seen by the camera becomes a scan: consensus, re-scan lock, admissibility.

Pure: codes and frame times in, accepted scans out; no clock, no threads, no camera, so every
rule is tested by feeding frames with made-up times.

- A 1D code is accepted once the same value was read in ``consensus_frames`` frames (default 2),
  each within ``consensus_window_s`` of the one before; if another value was read at the same
  place meanwhile, it must lead that value by ``consensus_frames`` reads. zbar and zxing-cpp
  both sometimes return a wrong number with a valid check digit (DESIGN 6); one frame is not
  enough, and neither is winning a tie.
- QR codes carry Reed-Solomon error correction: accepted on one read.
- Codes are tracked by what they mean, not by their text: every code of one product (its
  GTIN: an EAN-13, a DataBar ``(01)...``, a GS1 Digital Link QR on the same pack) is one track,
  read once and added once. Other codes (variable-measure labels, member cards ...) are tracked
  by their text. When a product's codes differ in what they carry, the one with a weight or a
  price (AI 310x/392x) is the one accepted.
- An accepted code is not accepted again while it stays in view; once it has not been read for
  ``rescan_gap_s`` it has left, and showing it again (a deliberate re-scan) adds it again. A
  camera gap (``reset(ts)``) keeps accepted codes locked: a pack lying still under the camera
  through a USB hiccup is not added twice.
- Only text that can be an item reaches the core: not binary payloads, not control characters
  (GS, the GS1 separator, excepted), not more than 512 characters, and not codes the barcode
  parser cannot place (a marketing QR on a pack must not beep "item not found"); see
  ``admissible``. The HID scanner applies the same text rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
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
    code: Code  # the code accepted (or to accept) for this track: one carrying a measure if any was read
    first_ts: float
    last_ts: float
    count: int = 1
    accepted: bool = False
    places: list[tuple[tuple[float, float] | None, float]] = field(default_factory=list)
    texts: set[str] = field(default_factory=set)  # every text read for this track
    two_d: bool = False  # a 2D code (error-corrected) of this track was read in the latest frame


@dataclass(frozen=True, slots=True)
class _Verdict:
    ok: bool
    key: str  # what tracks, locks and de-duplicates the code: "gtin:<GTIN-14>" or "text:<text>"
    measured: bool  # a product code carrying a weight or a price


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
        self._verdicts: dict[tuple[str, str], _Verdict] = {}

    def observe(self, codes: Iterable[Code], ts: float) -> list[Accepted]:
        """Feed the codes read in one frame captured at ``ts`` (seconds, monotonic)."""
        self._expire(ts)
        # one entry per product in this frame: the codes of one pack count once, and the code
        # carrying a measure (then a 2D code) stands for them
        frame: dict[str, list[tuple[Code, _Verdict]]] = {}
        for code in codes:
            verdict = self._verdict(code)
            if verdict.ok:
                frame.setdefault(verdict.key, []).append((code, verdict))
            else:
                self.rejected += 1
        accepted: list[Accepted] = []
        for key, group in frame.items():
            code, verdict = max(group, key=lambda cv: (cv[1].measured, cv[0].is_2d))
            track = self._tracks.get(key)
            if track is None:
                track = self._tracks[key] = _Track(code, ts, ts)
            else:
                track.count += 1
                track.last_ts = ts
                if verdict.measured or not self._verdict(track.code).measured:
                    track.code = code
            track.places = [_place(c) for c, _ in group]
            track.texts.update(c.text for c, _ in group)
            track.two_d = any(c.is_2d for c, _ in group)
            if track.accepted:
                continue
            if self._agreed(track, ts):
                track.accepted = True
                accepted.append(Accepted(track.code.text, track.code.symbology, ts, track.first_ts))
        return accepted

    def reset(self, ts: float | None = None) -> None:
        """Forget consensus evidence after a camera gap.

        With ``ts`` (the time of the first frame after the gap) accepted codes stay locked, as
        if last seen at ``ts``: what lay under the camera through the gap is not added again.
        Without it, everything is forgotten."""
        for key, track in list(self._tracks.items()):
            if ts is None or not track.accepted:
                del self._tracks[key]
            else:
                track.last_ts = max(track.last_ts, ts)

    @property
    def in_view(self) -> list[str]:
        """Values seen recently (accepted or not), one per track (a product's chosen code)."""
        return [t.code.text for t in self._tracks.values()]

    def is_accepted(self, code: Code | str) -> bool:
        """True while an accepted value is still in view (locked against a second add).

        Given a ``Code``, every code of an accepted product counts (its EAN-13 and its QR)."""
        if isinstance(code, str):
            return any(t.accepted and code in t.texts for t in self._tracks.values())
        verdict = self._verdict(code)
        track = self._tracks.get(verdict.key) if verdict.ok else None
        return track is not None and track.accepted

    # ------------------------------------------------------------------ rules

    def _verdict(self, code: Code) -> _Verdict:
        cache_key = (code.symbology, code.text)
        verdict = self._verdicts.get(cache_key)
        if verdict is None:
            verdict = _judge(code, self.settings)
            if len(self._verdicts) > 4096:  # bounded: a stream of junk must not grow memory
                self._verdicts.clear()
            self._verdicts[cache_key] = verdict
        return verdict

    def _agreed(self, track: _Track, ts: float) -> bool:
        if track.two_d:
            return True
        # another value read at the same place while this one was: one of them is a misread, so
        # this one must lead it by the full consensus (no lead can come from a tie or a fluke)
        # (a value accepted there counts while it is still being read: a pack swapped for another
        # at the same spot stops being a rival half a second after it left)
        rival = max((other.count for other in self._tracks.values()
                     if other is not track and not other.two_d and _same_place(track, other)
                     and ts - other.last_ts <= self.consensus_window_s), default=0)
        return track.count - rival >= self.consensus_frames

    def _expire(self, ts: float) -> None:
        for text, track in list(self._tracks.items()):
            idle = ts - track.last_ts
            limit = self.rescan_gap_s if track.accepted else self.consensus_window_s
            if idle > limit:  # (a frame time that ran backwards keeps the track: no re-add)
                del self._tracks[text]


def _judge(code: Code, settings: BarcodesSection | None) -> _Verdict:
    if code.binary or clean_text(code.text) is None:
        return _Verdict(False, "", False)
    result = barcodes.parse_scan(code.text, settings, code.symbology)
    if result.kind is barcodes.ScanKind.UNKNOWN:
        return _Verdict(False, "", False)
    if isinstance(result, barcodes.Product) and result.gtin:
        measured = result.weight_g is not None or result.price is not None
        return _Verdict(True, "gtin:" + result.gtin, measured)
    return _Verdict(True, "text:" + code.text, False)


def _place(code: Code) -> tuple[tuple[float, float] | None, float]:
    if not code.polygon:
        return None, 0.0
    xs = [p[0] for p in code.polygon]
    ys = [p[1] for p in code.polygon]
    radius = math.hypot(max(xs) - min(xs), max(ys) - min(ys)) / 2
    return (sum(xs) / len(xs), sum(ys) / len(ys)), radius


def _same_place(a: _Track, b: _Track) -> bool:
    for centre_a, radius_a in a.places:
        for centre_b, radius_b in b.places:
            if centre_a is None or centre_b is None:
                continue
            distance = math.hypot(centre_a[0] - centre_b[0], centre_a[1] - centre_b[1])
            if distance <= max(radius_a, radius_b, 8.0):
                return True
    return False
