"""When a code seen by the camera becomes a scan: consensus, re-scan lock, admissibility.

Pure: codes and frame times in, accepted scans out; no clock, no threads, no camera, so every
rule is tested by feeding frames with made-up times.

- A 1D code is accepted once the same value was read in ``consensus_frames`` frames (default 2),
  each within ``consensus_window_s`` of the one before; if another value was read at the same
  place meanwhile, it must lead that value by ``consensus_frames`` reads. zbar and zxing-cpp
  both sometimes return a wrong number with a valid check digit (DESIGN 6); one frame is not
  enough, and neither is winning a tie.
- QR codes carry Reed-Solomon error correction: accepted on one read, the first time. A code
  added before (this session) needs the full consensus again, whatever its symbology: a QR at
  the frame edge read once a second is not re-added on each lone read.
- Codes are tracked by what they mean, not by their text: every code of one product (its
  GTIN: an EAN-13, a DataBar ``(01)...``, a GS1 Digital Link QR on the same pack) is one track,
  read once and added once. Other codes (variable-measure labels, member cards ...) are tracked
  by their text. When a product's codes differ in what they carry, the one with a weight or a
  price (AI 310x/392x) is the one accepted.
- An accepted code is not accepted again while it stays in view. In view means read, or a
  barcode-like region the decoder found but could not read (``observe(..., regions=)``)
  overlapping the code's last outline: a can whose code is lost in glare, or a code at the
  frame edge read only now and then, stays locked. Once neither for ``rescan_gap_s`` it has
  left, and showing it again (a deliberate re-scan) adds it again. Regions alone hold a lock at
  most ``region_hold_s`` past the last read (a stripe pattern lying under the camera must not
  block re-scans at that spot for good); it is 0 (off) by default, because on the stream benchmark
  any hold cost deliberate re-scans ([camera] region_hold_s turns it on). A
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
from collections.abc import Iterable, Sequence
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


_Box = tuple[float, float, float, float]  # x0, y0, x1, y1
Outline = Sequence[tuple[float, float]] | Sequence[Sequence[float]]


@dataclass
class _Track:
    code: Code  # the code accepted (or to accept) for this track: one carrying a measure if any was read
    first_ts: float
    last_ts: float
    count: int = 1
    accepted: bool = False
    places: list[tuple[tuple[float, float] | None, float]] = field(default_factory=list)
    boxes: list[_Box] = field(default_factory=list)  # outlines (bounding boxes) of the latest read
    seen_ts: float = 0.0  # last read, or last unread region over ``boxes`` (accepted tracks only)
    rescan: bool = False  # the key was added before: the full consensus is needed, even for 2D
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
                 consensus_window_s: float = 0.5, region_hold_s: float = 0.0,
                 settings: BarcodesSection | None = None) -> None:
        if consensus_frames < 1:
            raise ValueError("consensus_frames must be at least 1")
        if rescan_gap_s < 0 or consensus_window_s <= 0:
            raise ValueError("rescan_gap_s must be >= 0 and consensus_window_s > 0")
        if region_hold_s < 0:
            raise ValueError("region_hold_s must be >= 0")
        self.consensus_frames = consensus_frames
        self.rescan_gap_s = rescan_gap_s
        self.consensus_window_s = consensus_window_s
        self.region_hold_s = region_hold_s
        self.settings = settings
        self.rejected = 0  # codes dropped as inadmissible (for health and the bench)
        self._tracks: dict[str, _Track] = {}
        self._verdicts: dict[tuple[str, str], _Verdict] = {}
        self._added: dict[str, None] = {}  # keys added this session (bounded, oldest dropped)

    def observe(self, codes: Iterable[Code], ts: float, regions: Iterable[Outline] = ()) -> list[Accepted]:
        """Feed the codes read in one frame captured at ``ts`` (seconds, monotonic), and the
        outlines of the barcode-like regions the decoder found in it but did not read (they keep
        an accepted code over which they lie in view)."""
        self._hold(regions, ts)
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
                track = self._tracks[key] = _Track(code, ts, ts, rescan=key in self._added)
            else:
                track.count += 1
                track.last_ts = ts
                if verdict.measured or not self._verdict(track.code).measured:
                    track.code = code
            track.seen_ts = ts
            track.places = [_place(c) for c, _ in group]
            track.boxes = [box for c, _ in group if (box := _box(c.polygon)) is not None]
            track.texts.update(c.text for c, _ in group)
            track.two_d = any(c.is_2d for c, _ in group)
            if track.accepted:
                continue
            if self._agreed(track, ts):
                track.accepted = True
                self._remember(key)
                accepted.append(Accepted(track.code.text, track.code.symbology, ts, track.first_ts))
        return accepted

    def reset(self, ts: float | None = None) -> None:
        """Forget consensus evidence after a camera gap.

        With ``ts`` (the time of the first frame after the gap) accepted codes stay locked, as
        if last seen at ``ts``: what lay under the camera through the gap is not added again.
        Without it, everything is forgotten (a new session: a first add is a first add again)."""
        if ts is None:
            self._added.clear()
        for key, track in list(self._tracks.items()):
            if ts is None or not track.accepted:
                del self._tracks[key]
            else:
                track.last_ts = max(track.last_ts, ts)
                track.seen_ts = max(track.seen_ts, ts)

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
        if track.two_d:  # error-corrected: no misread to outvote, but a re-add needs fresh reads
            return not track.rescan or track.count >= self.consensus_frames
        # another value read at the same place while this one was: one of them is a misread, so
        # this one must lead it by the full consensus (no lead can come from a tie or a fluke)
        # (a value accepted there counts while it is still being read: a pack swapped for another
        # at the same spot stops being a rival half a second after it left)
        rival = max((other.count for other in self._tracks.values()
                     if other is not track and not other.two_d and _same_place(track, other)
                     and ts - other.last_ts <= self.consensus_window_s), default=0)
        return track.count - rival >= self.consensus_frames

    def _hold(self, regions: Iterable[Outline], ts: float) -> None:
        """Accepted codes under an unread region are still in view (read or not)."""
        locked = [t for t in self._tracks.values()
                  if t.accepted and t.boxes and t.seen_ts < ts and ts - t.last_ts <= self.region_hold_s]
        if not locked:
            return
        boxes = [box for outline in regions if (box := _box(outline)) is not None]
        for track in locked:
            if ts - track.seen_ts <= self.rescan_gap_s and any(
                    _overlap(a, b) for a in track.boxes for b in boxes):
                track.seen_ts = ts

    def _remember(self, key: str) -> None:
        self._added.pop(key, None)
        self._added[key] = None
        if len(self._added) > 4096:
            del self._added[next(iter(self._added))]

    def _expire(self, ts: float) -> None:
        for text, track in list(self._tracks.items()):
            if track.accepted:
                gone = ts - max(track.seen_ts, track.last_ts) > self.rescan_gap_s
            else:
                gone = ts - track.last_ts > self.consensus_window_s
            if gone:  # (a frame time that ran backwards keeps the track: no re-add)
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


def _box(outline: Outline) -> _Box | None:
    points = [(float(p[0]), float(p[1])) for p in outline]
    if not points:
        return None
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    return min(xs), min(ys), max(xs), max(ys)


def _overlap(a: _Box, b: _Box, margin: float = 8.0) -> bool:
    return a[0] - margin <= b[2] and b[0] - margin <= a[2] and a[1] - margin <= b[3] and b[1] - margin <= a[3]


def _same_place(a: _Track, b: _Track) -> bool:
    for centre_a, radius_a in a.places:
        for centre_b, radius_b in b.places:
            if centre_a is None or centre_b is None:
                continue
            distance = math.hypot(centre_a[0] - centre_b[0], centre_a[1] - centre_b[1])
            if distance <= max(radius_a, radius_b, 8.0):
                return True
    return False
