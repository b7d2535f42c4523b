"""The kiosk's barcode pipeline: one frame in, the codes in it out.

Chosen by measurement on the evaluation set in ``bench/decode`` (bench/RESULTS.md has the
numbers and the ablations):

1. zxing-cpp on the whole frame, restricted to retail formats, without its 90-degree and
   downscale searches (the region pass below covers every angle; the searches cost a third of
   the time and read nothing more). The cheapest full-frame reader, and the best on QR.
2. Regions that look like bars (``regions.find_regions``) and are not explained by a code read
   in step 1 are cut out of the full-resolution frame, turned so the bars stand upright and
   enlarged so a module is about three pixels wide, and read by zxing-cpp. This is what reads
   small, tilted and rotated codes and codes beside other codes. Small square busy patches
   (small QR codes) are enlarged twice and read by zxing-cpp.
3. Only for bar regions still unread (the hard frames; the median frame never pays for it):
   a sharpened crop for zxing-cpp (blur), a local-contrast crop (CLAHE: glare, shadow, faded
   print) and the plain crop for zbar, which reads some of what zxing-cpp cannot.
4. Guards against misreads: zbar values seen on fewer than 3 scan lines are dropped (every zbar
   misread measured had 1 or 2), a UPC-E or EAN-8 with bars where its quiet zone should be is
   half of a longer symbol, and two values at one place cancel out.

zbar over the whole frame (pyzbar's usual use) is available (``Pipeline(full_zbar=True)``) but
off: it costs 3-7 ms a frame for about 1% more reads. Every code is normalised to the kiosk's
form (``engines``); a code read twice is reported once. A ``Decoder`` holds native decoder
state and is used by one thread at a time; ``kiosk decode`` and the camera use exactly this class.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from kiosk.peripherals.camera.engines import Code, ZbarEngine, ZxingEngine
from kiosk.peripherals.camera.regions import Region, RegionSettings, find_regions, straighten

__all__ = ["Code", "Decoder", "Pipeline", "to_gray"]


@dataclass(frozen=True)
class Pipeline:
    """The knobs of the pipeline; the defaults are the measured choice."""

    full_zxing: bool = True
    full_zxing_rotate: bool = False
    full_zxing_downscale: bool = False
    full_zbar: bool = False  # zbar over the whole frame: 3-7 ms, and the region pass reads more
    full_zbar_density: int = 2
    regions: bool = True
    region_settings: RegionSettings = field(default_factory=RegionSettings)
    region_zbar: bool = False  # zbar first on every crop: no more reads than zxing-cpp alone there
    region_zxing: bool = True
    target_module_px: float = 3.0  # enlarge region crops until a module is about this wide
    max_scale: float = 3.0
    crop_zbar_density: int = 2  # every second row of an upright crop
    min_zbar_quality: int = 3  # scan lines that must agree on a zbar 1D read
    matrix_scale: float = 2.0  # small QR patches are enlarged this much
    margin: float = 0.3  # crops reach this far (x region length) beyond each end: quiet zones
    min_edges: int = 10  # a region with fewer edges across it is not read at all
    hard_min_edges: int = 16  # regions still unread get the hard steps if they look like bars
    # (scale, variant, engine) tried in order on unread regions until one reads
    hard_steps: tuple[tuple[float, str, str], ...] = (
        (3.0, "sharpen", "zxing"), (3.0, "clahe", "zbar"), (2.0, "plain", "zbar"))


def to_gray(frame: np.ndarray) -> np.ndarray:
    """8-bit grayscale from a BGR, BGRA or gray frame (any other array raises ``ValueError``)."""
    if not isinstance(frame, np.ndarray) or frame.size == 0:
        raise ValueError("empty frame")
    if frame.dtype != np.uint8:
        if frame.dtype == np.uint16:
            frame = (frame >> 8).astype(np.uint8)
        else:
            raise ValueError(f"unsupported pixel type {frame.dtype}")
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 1:
        return frame[:, :, 0]
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    raise ValueError(f"unsupported frame shape {frame.shape}")


class Decoder:
    """Find and read every retail code in a frame. Not thread-safe: one per thread."""

    def __init__(self, pipeline: Pipeline | None = None) -> None:
        self.pipeline = p = pipeline or Pipeline()
        self._zxing = ZxingEngine(rotate=p.full_zxing_rotate, downscale=p.full_zxing_downscale, invert=False)
        self._zxing_crop = ZxingEngine(rotate=False, downscale=False, invert=False)
        self._zxing_matrix = ZxingEngine(rotate=True, downscale=False, invert=False)
        self._zbar_full = ZbarEngine(density=p.full_zbar_density) if p.full_zbar else None
        self._zbar_crop = ZbarEngine(density=p.crop_zbar_density, qr=False, rows_only=True)
        self._clahe = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(4, 2))
        self.last_regions: list[Region] = []
        self.last_ms = 0.0

    def decode(self, frame: np.ndarray) -> list[Code]:
        """The codes in ``frame`` (BGR or gray). An empty or odd frame gives ``[]``."""
        start = time.perf_counter()
        try:
            gray = to_gray(frame)
        except ValueError:
            self.last_regions = []
            return []
        if gray.shape[0] < 16 or gray.shape[1] < 16:
            self.last_regions = []
            return []
        p = self.pipeline
        found = _Found()
        if p.full_zxing:
            found.add(self._zxing.scan(gray))
        if self._zbar_full is not None:
            found.add(self._trusted(self._zbar_full.scan(gray)))
        self.last_regions = []
        all_regions: list[Region] = []
        if p.regions:
            all_regions = find_regions(gray, p.region_settings)
            regions = [r for r in all_regions if not found.explains(r)]
            self.last_regions = regions
            unread = []
            for region in regions:
                if region.kind == "matrix":
                    found.add(self._read_matrix(gray, region))
                    continue
                edges, module = _bar_edges(gray, region)
                if edges < p.min_edges:
                    continue
                crop, to_frame = self._crop(gray, region, module)
                codes = self._read_crop(crop)
                if codes:
                    found.add([c.moved(to_frame) for c in codes])
                elif edges >= p.hard_min_edges:
                    unread.append(region)
            for region in unread:
                if not found.explains(region):
                    found.add(self._read_hard(gray, region))
        self.last_ms = (time.perf_counter() - start) * 1000
        return _drop_partial_reads(found.codes, all_regions, gray)

    # ----------------------------------------------------------------- passes

    def _crop(self, gray: np.ndarray, region: Region, module: float | None) -> tuple[np.ndarray, np.ndarray]:
        p = self.pipeline
        scale = 1.0 if module is None else min(p.max_scale, max(1.0, p.target_module_px / module))
        return straighten(gray, region, scale, margin=p.margin, pad=8,
                          interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_LINEAR)

    def _trusted(self, codes: list[Code]) -> list[Code]:
        """zbar reports a 1D value read on a single scan line; those are where its wrong numbers
        with valid check digits come from (measured: every zbar misread in the evaluation set and
        stream had quality 1 or 2). zxing-cpp already wants two agreeing lines."""
        q = self.pipeline.min_zbar_quality
        return [c for c in codes if c.is_2d or c.quality >= q]

    def _read_matrix(self, gray: np.ndarray, region: Region) -> list[Code]:
        """A small square patch: enlarge it and let zxing-cpp look for a QR code."""
        p = self.pipeline
        crop, to_frame = straighten(gray, region, 1.0, margin=0.25, pad=8)
        big = cv2.resize(crop, None, fx=p.matrix_scale, fy=p.matrix_scale, interpolation=cv2.INTER_CUBIC)
        to_frame = to_frame @ np.array([[1 / p.matrix_scale, 0, 0], [0, 1 / p.matrix_scale, 0], [0, 0, 1]])
        return [c.moved(to_frame) for c in self._zxing_matrix.scan(big) if c.is_2d]

    def _read_crop(self, crop: np.ndarray) -> list[Code]:
        p = self.pipeline
        if p.region_zbar:
            codes = self._trusted(self._zbar_crop.scan(crop))
            if codes:
                return codes
        if p.region_zxing:
            return self._zxing_crop.scan(crop)
        return []

    def _read_hard(self, gray: np.ndarray, region: Region) -> list[Code]:
        p = self.pipeline
        cache: dict[float, tuple[np.ndarray, np.ndarray]] = {}
        for scale, variant, engine in p.hard_steps:
            if scale not in cache:
                cache[scale] = straighten(gray, region, scale, margin=p.margin, pad=8, interpolation=cv2.INTER_CUBIC)
            crop, to_frame = cache[scale]
            image = self._variant(variant, crop)
            if engine == "zbar":
                codes = self._trusted(self._zbar_crop.scan(image))
            else:
                codes = self._zxing_crop.scan(image)
            if codes:
                return [c.moved(to_frame) for c in codes]
        return []

    def _variant(self, name: str, crop: np.ndarray) -> np.ndarray:
        if name == "sharpen":  # undo some lens and motion blur
            blurred = cv2.GaussianBlur(crop, (0, 0), 3.0)
            return cv2.addWeighted(crop, 3.5, blurred, -2.5, 0)
        if name == "clahe":  # local contrast: glare, shadows, faded print
            return self._clahe.apply(crop)
        return crop  # "plain"


class _Found:
    """Codes found so far in a frame, one per value."""

    def __init__(self) -> None:
        self.codes: list[Code] = []
        self._seen: set[str] = set()

    def add(self, codes: list[Code]) -> None:
        for code in codes:
            if code.text not in self._seen:
                self._seen.add(code.text)
                self.codes.append(code)

    def explains(self, region: Region) -> bool:
        for code in self.codes:
            if code.polygon:
                xs = [pt[0] for pt in code.polygon]
                ys = [pt[1] for pt in code.polygon]
                if region.contains(sum(xs) / len(xs), sum(ys) / len(ys)):
                    return True
        return False


SHORT = frozenset({"upce", "ean8"})


def _centre(code: Code) -> tuple[float, float]:
    xs = [pt[0] for pt in code.polygon]
    ys = [pt[1] for pt in code.polygon]
    return sum(xs) / len(xs), sum(ys) / len(ys)


def _drop_partial_reads(codes: list[Code], regions: list[Region], gray: np.ndarray | None = None) -> list[Code]:
    """Drop what is probably a misread, before it can become an item.

    A UPC-E or EAN-8 is short enough to be "read" inside half of a longer symbol: drop it when
    a longer code was read over it, or when bars run on right past its ends (a real symbol has
    a quiet zone of 7 modules on each side). Two different values read at one place: at least
    one is wrong; keep neither, the next frame decides.
    """
    keep = []
    for code in codes:
        if not code.polygon or code.is_2d:
            keep.append(code)
            continue
        cx, cy = _centre(code)
        rivals = [o for o in codes if o is not code and o.polygon and not o.is_2d and o.text != code.text
                  and _inside(o, cx, cy)]
        if code.symbology in SHORT:
            if any(o.symbology not in SHORT for o in rivals):
                continue
            angle = _reading_angle(code, regions)
            if gray is not None and angle is not None and _bars_past_ends(gray, code, angle):
                continue
        if any(o.symbology == code.symbology or (o.symbology in SHORT) == (code.symbology in SHORT)
               for o in rivals):
            continue
        keep.append(code)
    return keep


def _inside(code: Code, x: float, y: float) -> bool:
    poly = np.asarray(code.polygon, np.float32)
    if len(poly) < 3:
        return False
    hull = cv2.convexHull(poly)
    return cv2.pointPolygonTest(hull, (float(x), float(y)), True) >= -4.0


def _reading_angle(code: Code, regions: list[Region]) -> float | None:
    """The direction a 1D code is read in (degrees): its bar region's, or zxing-cpp's scan line
    (its outline runs from the start to the end of the symbol)."""
    cx, cy = _centre(code)
    region = next((r for r in regions if r.kind == "bars" and r.contains(cx, cy)), None)
    if region is not None:
        return region.angle
    if code.engine == "zxing" and len(code.polygon) >= 2:
        (x0, y0), (x1, y1) = code.polygon[0], code.polygon[1]
        if (x1 - x0) or (y1 - y0):
            return float(np.degrees(np.arctan2(y1 - y0, x1 - x0)))
    return None


def _bars_past_ends(gray: np.ndarray, code: Code, angle: float) -> bool:
    """True when the quiet zone on either side of a short 1D code holds bars."""
    a = np.radians(angle)
    pts = np.asarray(code.polygon, np.float64)
    u = pts[:, 0] * np.cos(a) + pts[:, 1] * np.sin(a)
    length = float(u.max() - u.min())
    if length < 8:
        return False
    modules = 51 if code.symbology == "upce" else 67
    module = length / modules
    cx, cy = _centre(code)
    span = Region(cx, cy, length + 16 * module, max(6.0, length * 0.3), angle, "bars", 0.0)
    crop, _ = straighten(gray, span, 1.0, margin=0.0, pad=0.0)
    profile = crop.mean(axis=0)
    diff = np.abs(np.diff(profile))
    inner = diff[int(8 * module):len(diff) - int(8 * module)]
    if inner.size == 0:
        return False
    strong = 0.35 * float(inner.max())
    margin = max(2, int(6 * module))
    left, right = diff[:margin], diff[len(diff) - margin:]
    return bool(np.count_nonzero(left > strong) >= 2 or np.count_nonzero(right > strong) >= 2)


def _bar_edges(gray: np.ndarray, region: Region) -> tuple[int, float | None]:
    """Edges across the region's middle, and the narrowest bar width (pixels) they suggest.

    Retail symbols have 40 or more edges; text and packaging art usually far fewer.
    """
    crop, _ = straighten(gray, Region(region.cx, region.cy, region.length, max(4.0, region.height * 0.5),
                                      region.angle, region.kind, region.score), 1.0, margin=0.0, pad=0.0)
    profile = crop.mean(axis=0)
    if profile.size < 8:
        return 0, None
    diff = np.diff(profile)
    threshold = max(4.0, 0.2 * float(np.abs(diff).max()))
    signs = np.sign(np.where(np.abs(diff) > threshold, diff, 0))
    nonzero = signs[signs != 0]
    edges = int(np.count_nonzero(np.diff(nonzero) != 0)) + 1 if nonzero.size else 0
    if edges < 8:
        return edges, None
    return edges, region.length / (edges * 1.7)
