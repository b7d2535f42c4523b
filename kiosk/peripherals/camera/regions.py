"""Where in a frame the codes probably are, and straightened crops of those places.

Printed bars make a patch of strong, parallel gradients: in the gradient structure tensor they
have high energy and high coherence, and the tensor's orientation says which way the bars run,
whatever way the shopper holds the pack. Matrix codes (QR) make strong gradients in every
direction. The search runs at a quarter of the resolution (under 1 ms for 640x480) and gives oriented
rectangles, best first, which the decoder cuts out of the full-resolution frame turned so the
bars stand upright and enlarged so a module is a few pixels wide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True, slots=True)
class Region:
    """An oriented rectangle in frame coordinates; ``angle`` (degrees) turns the bars upright."""

    cx: float
    cy: float
    length: float  # across the bars (along the gradient)
    height: float  # along the bars
    angle: float
    kind: str  # "bars" or "matrix"
    score: float

    def polygon(self) -> np.ndarray:
        return cv2.boxPoints(((self.cx, self.cy), (self.length, self.height), self.angle))

    def contains(self, x: float, y: float) -> bool:
        a = math.radians(self.angle)
        dx, dy = x - self.cx, y - self.cy
        u = dx * math.cos(a) + dy * math.sin(a)
        v = -dx * math.sin(a) + dy * math.cos(a)
        return abs(u) <= self.length / 2 and abs(v) <= self.height / 2


@dataclass(frozen=True)
class RegionSettings:
    scale: float = 0.5  # gradients are taken at this resolution (relative to the frame) ...
    pool: int = 2  # ... then pooled this many times smaller, where the search runs (measured:
    # the same regions as searching at half resolution, for half the time)
    window: int = 3  # tensor smoothing window, in pooled pixels
    min_energy: float = 350.0  # mean squared gradient (Sobel 3x3) that counts as printed edges
    min_coherence: float = 0.55  # bars: gradients agree on one direction
    max_net_gradient: float = 0.5  # bars: rising and falling edges cancel out
    open: int = 2  # remove specks smaller than this (pooled pixels)
    close: int = 5  # merge pieces of one symbol (pooled pixels)
    min_area: int = 20  # pooled pixels
    max_regions: int = 4
    max_matrix: int = 2
    max_matrix_coherence: float = 0.45  # matrix codes: edges in every direction
    max_matrix_px: float = 160.0  # bigger QR codes are read on the whole frame


def find_regions(gray: np.ndarray, settings: RegionSettings = RegionSettings()) -> list[Region]:
    """Likely code locations, best first: up to ``max_regions`` bar regions, then up to
    ``max_matrix`` square patches of busy, direction-less texture (small QR codes)."""
    s = settings
    h, w = gray.shape[:2]
    sw, sh = max(16, int(w * s.scale)), max(16, int(h * s.scale))
    small = cv2.resize(gray, (sw, sh), interpolation=cv2.INTER_AREA)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    pw, ph = max(8, sw // s.pool), max(8, sh // s.pool)
    k = (s.window, s.window)

    def smooth(image: np.ndarray) -> np.ndarray:  # pool, then average over the window
        return cv2.boxFilter(cv2.resize(image, (pw, ph), interpolation=cv2.INTER_AREA), -1, k)

    jxx, jyy, jxy = smooth(gx * gx), smooth(gy * gy), smooth(gx * gy)
    energy = jxx + jyy
    coherence = np.sqrt((jxx - jyy) ** 2 + 4 * jxy * jxy) / (energy + 1e-3)
    # a lone edge (a pack's outline) is coherent too, but its gradients all point one way;
    # bars rise and fall, so their mean gradient is small next to their mean gradient length
    mean_vec = cv2.magnitude(smooth(gx), smooth(gy))
    mean_len = smooth(cv2.magnitude(gx, gy))
    busy = (energy > s.min_energy) & (mean_vec < s.max_net_gradient * mean_len)
    opening = np.ones((s.open, s.open), np.uint8)
    closing = np.ones((s.close, s.close), np.uint8)
    bars = (busy & (coherence > s.min_coherence)).astype(np.uint8)
    if s.open > 1:  # specks (a letter's stroke) would bridge a code to its neighbours
        bars = cv2.morphologyEx(bars, cv2.MORPH_OPEN, opening)
    # wide bars leave gaps where the window saw a single edge: close them
    bars = cv2.morphologyEx(bars, cv2.MORPH_CLOSE, closing)
    tensor = (jxx, jyy, jxy, coherence)
    at = s.scale / s.pool
    regions = _components(bars, tensor, s, "bars", at)[: s.max_regions]
    if s.max_matrix:
        matrix = (busy & (coherence < s.max_matrix_coherence)).astype(np.uint8)
        if s.open > 1:
            matrix = cv2.morphologyEx(matrix, cv2.MORPH_OPEN, opening)
        matrix = cv2.morphologyEx(matrix, cv2.MORPH_CLOSE, closing)
        regions += _components(matrix, tensor, s, "matrix", at)[: s.max_matrix]
    return regions


def _components(mask: np.ndarray, tensor: tuple[np.ndarray, ...], s: RegionSettings, kind: str,
                scale: float) -> list[Region]:
    jxx, jyy, jxy, coherence = tensor
    sh, sw = mask.shape
    inv = 1.0 / scale
    regions: list[Region] = []
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    for i in range(1, n):
        area = stats[i, cv2.CC_STAT_AREA]
        if area < s.min_area:
            continue
        x, y, bw, bh = stats[i, :4]
        if kind == "matrix" and (max(bw, bh) > 2 * min(bw, bh) or max(bw, bh) * inv > s.max_matrix_px):
            continue  # QR is square; a long busy strip is a line of text
        comp = labels[y:y + bh, x:x + bw] == i
        if kind == "bars":
            mxx = float(jxx[y:y + bh, x:x + bw][comp].mean())
            myy = float(jyy[y:y + bh, x:x + bw][comp].mean())
            mxy = float(jxy[y:y + bh, x:x + bw][comp].mean())
            theta = 0.5 * math.atan2(2 * mxy, mxx - myy)  # gradient direction = across the bars
        else:
            theta = 0.0
        c, sn = math.cos(theta), math.sin(theta)
        ys, xs = np.nonzero(comp)
        xs = xs + x - (sw - 1) / 2.0
        ys = ys + y - (sh - 1) / 2.0
        u = xs * c + ys * sn
        v = -xs * sn + ys * c
        u0, u1, v0, v1 = u.min(), u.max(), v.min(), v.max()
        uc, vc = (u0 + u1) / 2, (v0 + v1) / 2
        cx = (uc * c - vc * sn + (sw - 1) / 2.0 + 0.5) * inv - 0.5
        cy = (uc * sn + vc * c + (sh - 1) / 2.0 + 0.5) * inv - 0.5
        length, height = (u1 - u0 + 1) * inv, (v1 - v0 + 1) * inv
        if length < 24 or height < 8:
            continue
        fill = area / ((u1 - u0 + 1) * (v1 - v0 + 1))
        agreement = float(coherence[y:y + bh, x:x + bw][comp].mean())
        score = area * fill * (min(1.0, agreement) if kind == "bars" else 1.0 - agreement)
        regions.append(Region(cx, cy, length, height, math.degrees(theta), kind, score))
    regions.sort(key=lambda r: -r.score)
    return regions


def straighten(gray: np.ndarray, region: Region, scale: float, margin: float = 0.12, pad: float = 6.0,
               interpolation: int = cv2.INTER_LINEAR, max_height: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``region`` out of ``gray`` with the bars vertical, enlarged ``scale`` times across them.

    Along the bars nothing is gained by enlarging, so that axis keeps the frame's scale, and
    ``max_height`` (if set) keeps only the middle of very tall regions. Returns the crop and the
    2x3 matrix that maps crop coordinates back to the frame.
    """
    length = region.length * (1 + 2 * margin) + 2 * pad
    height = region.height + 2 * pad
    if max_height:
        height = min(height, max_height)
    out_w, out_h = max(8, int(length * scale)), max(8, int(height))
    a = math.radians(region.angle)
    c, s = math.cos(a), math.sin(a)
    # crop (x, y) -> frame: centre + R(angle) @ ((x - w/2) / scale, y - h/2)
    to_frame = np.array([
        [c / scale, -s, region.cx - c * out_w / 2 / scale + s * out_h / 2],
        [s / scale, c, region.cy - s * out_w / 2 / scale - c * out_h / 2],
    ])
    crop = cv2.warpAffine(gray, to_frame, (out_w, out_h), flags=interpolation | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)
    return crop, to_frame
