"""Build the camera-decoding evaluation set: retail codes on product-like 640x480 frames.

Every image is drawn from one seeded random generator, so the same seed gives the same set
byte for byte (PNG, lossless; JPEG artefacts are simulated before saving). Codes are rendered
module by module (zxing-cpp's writer, one pixel per module) and then scaled, printed on a label
or straight on the pack, bent round a can, tilted in perspective, lit unevenly, blurred, glared
and given sensor noise, the way a shopper's hand holds them under the kiosk camera.

    python -m bench.decode.evalset --seed 1 --count 800 --out bench/out/decode/set
    python -m bench.decode.evalset --seed 1 --video bench/out/decode/stream.avi

The set is described by ``manifest.json``: per file the conditions (tags) and the codes with
their format, text and the identity used for scoring (``key``: GTIN-14 for EAN/UPC, the GS1
element string for GS1 symbols, the text otherwise).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import zxingcpp

W, H = 640, 480

FORMATS = ["ean13", "ean8", "upca", "upce", "code128", "gs1-128", "qr", "databar", "databar-exp"]
# How often each format shows up on a product (weights, not a law of nature): EAN-13 dominates
# a Chinese supermarket; the rest is what the kiosk must still read.
FORMAT_WEIGHTS = [0.34, 0.08, 0.08, 0.06, 0.08, 0.08, 0.14, 0.08, 0.06]

TAGS = ["clean", "small", "large", "rotated", "perspective", "curved", "blur", "motion",
        "glare", "low_contrast", "dim", "multi", "none", "hard_negative"]

_ZX = {
    "ean13": zxingcpp.BarcodeFormat.EAN13, "ean8": zxingcpp.BarcodeFormat.EAN8,
    "upca": zxingcpp.BarcodeFormat.UPCA, "upce": zxingcpp.BarcodeFormat.UPCE,
    "code128": zxingcpp.BarcodeFormat.Code128, "gs1-128": zxingcpp.BarcodeFormat.Code128,
    "qr": zxingcpp.BarcodeFormat.QRCode, "databar": zxingcpp.BarcodeFormat.DataBar,
    "databar-exp": zxingcpp.BarcodeFormat.DataBarExp,
}


# --------------------------------------------------------------------------- payloads

def check_digit(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def _digits(rng: np.random.Generator, n: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, n))


def payload(rng: np.random.Generator, fmt: str, items_only: bool = False) -> tuple[str, str, str]:
    """(text to encode, expected decoded text, scoring key). ``items_only``: only codes the kiosk
    acts on (the live stream counts every pass as a scan)."""
    if fmt == "ean13":
        r = rng.random()
        prefix = "69" + str(rng.integers(0, 10)) if r < 0.6 else ("2" + str(rng.integers(0, 10)) if r < 0.75 else _digits(rng, 3))
        if prefix[0] == "0":
            prefix = "4" + prefix[1:]  # a leading 0 would be a UPC-A
        body = prefix + _digits(rng, 12 - len(prefix))
        code = body + check_digit(body)
        return body, code, code.rjust(14, "0")
    if fmt == "ean8":
        body = "69" + _digits(rng, 5)
        code = body + check_digit(body)
        return body, code, code.rjust(14, "0")
    if fmt == "upca":
        body = str(rng.choice([0, 0, 0, 1, 3, 6, 7, 8])) + _digits(rng, 10)
        code = body + check_digit(body)
        return body, code, code.rjust(14, "0")
    if fmt == "upce":
        # number system 0, six digits whose last one selects the expansion rule
        while True:  # not every 6 digits are a valid zero suppression
            six = _digits(rng, 5) + str(rng.integers(0, 10))
            last = six[5]
            if (last == "3" and six[2] in "012") or (last == "4" and six[3] == "0") or (last in "56789" and six[4] == "0"):
                continue
            break
        upca = _expand_upce("0" + six)
        code = upca + check_digit(upca)
        return "0" + six, code, code.rjust(14, "0")
    if fmt == "code128":
        kind = rng.integers(0, 4)
        text = ["M1" + _digits(rng, 10), "C-FULL" + str(rng.integers(10, 200)) + "-" + str(rng.integers(1, 50)),
                "S" + _digits(rng, 4), "KR1:" + _digits(rng, 12)][kind]
        return text, text, text
    if fmt == "gs1-128":
        gtin = "0" + "69" + _digits(rng, 10)
        gtin = gtin + check_digit(gtin)
        extra = rng.integers(0, 3)
        text = f"(01){gtin}" + [f"(3103){rng.integers(50, 5000):06d}", f"(17)2{rng.integers(5, 9)}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}(10)L{_digits(rng, 4)}", f"(15)2{rng.integers(5, 9)}1231"][extra]
        return text, text, text
    if fmt == "databar":
        gtin = "0" + "69" + _digits(rng, 10)
        gtin = gtin + check_digit(gtin)
        return gtin[:13], f"(01){gtin}", f"(01){gtin}"
    if fmt == "databar-exp":
        gtin = "0" + "2" + _digits(rng, 11)
        gtin = gtin + check_digit(gtin)
        text = f"(01){gtin}(3103){rng.integers(50, 3000):06d}"
        return text, text, text
    if fmt == "qr":
        # a payment URL (not an item: the camera must read it but never add it), a member card,
        # a receipt, a coupon, a GS1 Digital Link on a pack
        kind = rng.integers(1 if items_only else 0, 5)
        gtin = "69" + _digits(rng, 10)
        text = [
            "https://qr.alipay.com/bax0" + _digits(rng, 8) + "x" + _digits(rng, 6),
            "M1" + _digits(rng, 10),
            "KR1:" + "".join(rng.choice(list("ABCDEFGHJKLMNPQRSTUVWXYZ23456789"), 20)),
            "C-FULL100-10",
            "https://id.gs1.org/01/0" + gtin + check_digit("0" + gtin),
        ][kind]
        return text, text, text
    raise ValueError(fmt)


def _expand_upce(upce7: str) -> str:
    """UPC-E (number system + 6 digits) to the 11-digit UPC-A body without check digit."""
    ns, d = upce7[0], upce7[1:]
    last = d[5]
    if last in "012":
        return ns + d[0:2] + last + "0000" + d[2:5]
    if last == "3":
        return ns + d[0:3] + "00000" + d[3:5]
    if last == "4":
        return ns + d[0:4] + "00000" + d[4]
    return ns + d[0:5] + "0000" + last


def render_modules(fmt: str, text: str) -> np.ndarray:
    """The symbol at one pixel per module (0 = bar, 255 = space), with quiet zones."""
    opts = {"gs1": True} if fmt == "gs1-128" else {}
    barcode = zxingcpp.create_barcode(text, _ZX[fmt], **opts)
    img = np.array(zxingcpp.write_barcode_to_image(barcode, scale=1, add_quiet_zones=True))
    return img


# --------------------------------------------------------------------------- scene

@dataclass
class Placed:
    fmt: str
    text: str
    key: str
    polygon: list[list[float]] = field(default_factory=list)


def _smooth_field(rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    small = rng.uniform(lo, hi, (3, 4)).astype(np.float32)
    return cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC)


def _color(rng: np.random.Generator, light: bool | None = None) -> np.ndarray:
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(40, 255), rng.integers(60, 255)]]])
    c = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)
    if light is True:
        c = 255 - (255 - c) * 0.25
    elif light is False:
        c = c * 0.45
    return c


def background(rng: np.random.Generator, hard_negative: bool = False) -> np.ndarray:
    """A counter with a product pack on it: coloured panels, blobs, printed text."""
    img = np.full((H, W, 3), int(rng.uniform(40, 120)), np.uint8)
    # the pack: a large rotated rectangle in a printed colour
    cx, cy = rng.uniform(0.3, 0.7) * W, rng.uniform(0.3, 0.7) * H
    pw, ph = rng.uniform(0.6, 1.6) * W, rng.uniform(0.6, 1.6) * H
    box = cv2.boxPoints(((cx, cy), (pw, ph), rng.uniform(-30, 30))).astype(np.int32)
    cv2.fillConvexPoly(img, box, _color(rng).tolist(), lineType=cv2.LINE_AA)
    for _ in range(rng.integers(2, 7)):  # artwork
        c = _color(rng).tolist()
        if rng.random() < 0.5:
            cv2.circle(img, (int(rng.uniform(0, W)), int(rng.uniform(0, H))), int(rng.uniform(20, 160)), c, -1, cv2.LINE_AA)
        else:
            p = rng.uniform(0, 1, (2, 2)) * [W, H]
            cv2.rectangle(img, tuple(p[0].astype(int)), tuple(p[1].astype(int)), c, -1)
    fonts = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX]
    for _ in range(rng.integers(2, 9)):  # printed text: ingredients, brand, nutrition table
        words = ["NET WT", "500g", "INGREDIENTS", "BEST BEFORE", "2025-12-31", "ORGANIC", "Made in China",
                 "ENERGY 1520kJ", "||| |||", "111 1111 11", "LOT 240117", "KEEP DRY", "SUGAR FREE"]
        text = " ".join(rng.choice(words, rng.integers(1, 4)))
        org = (int(rng.uniform(-50, W - 50)), int(rng.uniform(20, H)))
        cv2.putText(img, text, org, fonts[rng.integers(0, 4)], rng.uniform(0.4, 1.6), _color(rng).tolist(),
                    int(rng.integers(1, 3)), cv2.LINE_AA)
    if hard_negative:  # things that look like bars to a scanner: stripes, grids, text blocks
        kind = rng.integers(0, 3)
        x0, y0 = int(rng.uniform(0, W - 250)), int(rng.uniform(0, H - 180))
        w, h = int(rng.uniform(120, 250)), int(rng.uniform(60, 180))
        patch = np.full((h, w, 3), 235, np.uint8)
        if kind == 0:  # regular or random stripes (packaging pattern, a grille)
            x = 0
            while x < w:
                bw = int(rng.integers(1, 7))
                if rng.random() < 0.5:
                    patch[:, x:x + bw] = 25
                x += bw
        elif kind == 1:  # a nutrition table grid
            for gx in range(0, w, int(rng.integers(8, 25))):
                patch[:, gx:gx + 1] = 30
            for gy in range(0, h, int(rng.integers(8, 25))):
                patch[gy:gy + 1, :] = 30
        else:  # dense small text
            for gy in range(12, h, 12):
                cv2.putText(patch, _digits(rng, 30), (2, gy), cv2.FONT_HERSHEY_PLAIN, 0.8, (20, 20, 20), 1)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-40, 40), 1.0)
        patch = cv2.warpAffine(patch, m, (w, h), borderValue=(235, 235, 235))
        img[y0:y0 + h, x0:x0 + w] = patch
    return img.astype(np.float32) + rng.normal(0, 4, (H, W, 1)).astype(np.float32)


def _label(rng: np.random.Generator, modules: np.ndarray, fmt: str, module_px: float, text: str,
           low_contrast: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The code as printed: scaled modules, ink and paper colours, human-readable digits.
    Returns (label BGR float, mask, symbol corners in label coordinates)."""
    two_d = fmt == "qr"
    mh, mw = modules.shape
    w = max(8, int(round(mw * module_px)))
    if two_d:
        h = max(8, int(round(mh * module_px)))
    else:
        h = max(8, int(round(w * rng.uniform(0.25, 0.7))))  # truncated bars on small packs
    sym = cv2.resize(modules[mh // 2:mh // 2 + 1] if not two_d else modules, (w, h),
                     interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    # bar gain/loss from ink spread: erode or dilate by a fraction of a module
    spread = rng.normal(0, 0.12) * module_px
    if abs(spread) >= 0.5:
        k = np.ones((1, int(abs(spread)) + 1) if not two_d else (int(abs(spread)) + 1,) * 2, np.uint8)
        sym = cv2.erode(sym, k) if spread > 0 else cv2.dilate(sym, k)
    if low_contrast:
        paper = np.full(3, rng.uniform(150, 215), np.float32) * rng.uniform(0.85, 1.0, 3)
        ink = paper * rng.uniform(0.55, 0.78)
    else:
        paper = _color(rng, light=True) if rng.random() < 0.4 else np.full(3, rng.uniform(215, 250), np.float32)
        ink = _color(rng, light=False) if rng.random() < 0.25 else np.full(3, rng.uniform(5, 50), np.float32)
    text_h = 0 if two_d or rng.random() < 0.3 else max(6, int(module_px * 8))
    pad = int(rng.uniform(0.5, 3) * module_px) + 2
    lh, lw = h + text_h + 2 * pad, w + 2 * pad
    label = np.empty((lh, lw, 3), np.float32)
    label[:] = paper
    label[pad:pad + h, pad:pad + w] = ink + sym[..., None] * (paper - ink)
    if text_h:
        scale = text_h / 30.0
        size = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0]
        label8 = label.astype(np.uint8)
        cv2.putText(label8, text, (max(0, (lw - size[0]) // 2), pad + h + text_h - 1), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, ink.tolist(), max(1, int(scale * 1.5)), cv2.LINE_AA)
        label = label8.astype(np.float32)
    mask = np.ones((lh, lw), np.float32)
    corners = np.float32([[pad, pad], [pad + w, pad], [pad + w, pad + h], [pad, pad + h]])
    return label, mask, corners


def _curve(label: np.ndarray, mask: np.ndarray, corners: np.ndarray, rng: np.random.Generator):
    """Wrap the label round a can (cylinder axis vertical or horizontal): foreshortening and shading."""
    lh, lw = label.shape[:2]
    vertical_axis = rng.random() < 0.7
    span = lw if vertical_axis else lh
    theta = rng.uniform(0.6, 1.4)  # half the arc the label covers, radians
    radius = span / (2 * theta)
    out_span = int(2 * radius * math.sin(theta))
    u = np.arange(out_span, dtype=np.float32) - out_span / 2
    src = (np.arcsin(np.clip(u / radius, -1, 1)) * radius + span / 2).astype(np.float32)
    shade = np.cos(np.arcsin(np.clip(u / radius, -1, 1))) * 0.45 + 0.55
    if vertical_axis:
        mx, my = np.meshgrid(src, np.arange(lh, dtype=np.float32))
        label = cv2.remap(label, mx, my, cv2.INTER_LINEAR) * shade[None, :, None]
        mask = cv2.remap(mask, mx, my, cv2.INTER_LINEAR)
        fwd = lambda x: radius * np.sin((x - span / 2) / radius) + out_span / 2  # noqa: E731
        corners = np.float32([[fwd(x), y] for x, y in corners])
    else:
        mx, my = np.meshgrid(np.arange(lw, dtype=np.float32), src)
        label = cv2.remap(label, mx, my, cv2.INTER_LINEAR) * shade[:, None, None]
        mask = cv2.remap(mask, mx, my, cv2.INTER_LINEAR)
        fwd = lambda y: radius * np.sin((y - span / 2) / radius) + out_span / 2  # noqa: E731
        corners = np.float32([[x, fwd(y)] for x, y in corners])
    return label.astype(np.float32), mask, corners


def place(img: np.ndarray, occupied: np.ndarray, rng: np.random.Generator, fmt: str, tags: set[str],
          module_px: float) -> Placed | None:
    enc, text, key = payload(rng, fmt)
    modules = render_modules(fmt, enc)
    label, mask, corners = _label(rng, modules, fmt, module_px, text if fmt in ("ean13", "ean8", "upca", "upce") else "",
                                  "low_contrast" in tags)
    if "curved" in tags:
        label, mask, corners = _curve(label, mask, corners, rng)
    lh, lw = label.shape[:2]
    angle = rng.uniform(0, 360) if "rotated" in tags else rng.normal(0, 8)
    persp = rng.uniform(0.15, 0.35) if "perspective" in tags else rng.uniform(0, 0.06)
    src = np.float32([[0, 0], [lw, 0], [lw, lh], [0, lh]])
    dst = src.copy()
    # perspective: shrink one edge, as when the pack is tilted away from the camera
    edge = rng.integers(0, 4)
    a, b = edge, (edge + 1) % 4
    mid = (dst[a] + dst[b]) / 2
    dst[a] += (mid - dst[a]) * persp * 2
    dst[b] += (mid - dst[b]) * persp * 2
    dst += rng.normal(0, 0.01, dst.shape).astype(np.float32) * [lw, lh]
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    centre = dst.mean(axis=0)
    dst = (dst - centre) @ np.float32([[c, -s], [s, c]]).T
    span_x, span_y = dst[:, 0].max() - dst[:, 0].min(), dst[:, 1].max() - dst[:, 1].min()
    if span_x > W - 8 or span_y > H - 8:
        return None
    for _ in range(30):  # find a free spot
        ox = rng.uniform(-dst[:, 0].min() + 4, W - dst[:, 0].max() - 4)
        oy = rng.uniform(-dst[:, 1].min() + 4, H - dst[:, 1].max() - 4)
        quad = dst + [ox, oy]
        poly = np.zeros_like(occupied)
        cv2.fillConvexPoly(poly, quad.astype(np.int32), 1)
        if not (poly & occupied).any():
            break
    else:
        return None
    m = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    warped = cv2.warpPerspective(label, m, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)
    wmask = cv2.warpPerspective(mask, m, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)[..., None]
    img[:] = img * (1 - wmask) + warped * wmask
    occupied |= (wmask[..., 0] > 0).astype(np.uint8)
    sym = cv2.perspectiveTransform(corners[None], m)[0]
    return Placed(fmt, text, key, [[round(float(x), 1), round(float(y), 1)] for x, y in sym])


def degrade(img: np.ndarray, rng: np.random.Generator, tags: set[str], code_polys: list) -> np.ndarray:
    img = img * _smooth_field(rng, 0.75, 1.15)[..., None]
    if "dim" in tags:
        img = img * rng.uniform(0.3, 0.5)
    if "glare" in tags:  # a specular highlight, usually over a code
        if code_polys and rng.random() < 0.85:
            poly = np.array(code_polys[rng.integers(0, len(code_polys))])
            t = rng.uniform(0.1, 0.9)
            centre = poly[0] + (poly[1] - poly[0]) * t + (poly[3] - poly[0]) * rng.uniform(0.2, 0.8)
        else:
            centre = np.array([rng.uniform(0, W), rng.uniform(0, H)])
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        sx, sy = rng.uniform(8, 45), rng.uniform(15, 90)
        ang = rng.uniform(0, math.pi)
        dx, dy = xx - centre[0], yy - centre[1]
        u = dx * math.cos(ang) + dy * math.sin(ang)
        v = -dx * math.sin(ang) + dy * math.cos(ang)
        blob = np.exp(-(u ** 2 / (2 * sx ** 2) + v ** 2 / (2 * sy ** 2)))
        img = img + blob[..., None] * rng.uniform(120, 260)
    if "blur" in tags:
        sigma = rng.uniform(1.0, 2.2)
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    elif "motion" in tags:
        length = int(rng.integers(5, 13))
        k = np.zeros((length, length), np.float32)
        k[length // 2, :] = 1.0 / length
        k = cv2.warpAffine(k, cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), rng.uniform(0, 180), 1.0),
                           (length, length))
        k /= max(k.sum(), 1e-6)
        img = cv2.filter2D(img, -1, k)
    else:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 0.9))  # a kiosk lens is never perfect
    noise = rng.uniform(1.5, 4.0) * (2.0 if "dim" in tags else 1.0)
    img = img + rng.normal(0, noise, img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    quality = int(rng.integers(55, 95))  # the camera's MJPEG stream
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def _module_px(rng: np.random.Generator, fmt: str, tags: set[str]) -> float:
    if "small" in tags:
        return rng.uniform(1.3, 2.2) if fmt == "qr" else rng.uniform(0.85, 1.3)
    if "large" in tags:
        return rng.uniform(7, 11) if fmt == "qr" else rng.uniform(3.5, 5.5)
    return rng.uniform(2.2, 6) if fmt == "qr" else rng.uniform(1.3, 3.5)


def _tags_for(rng: np.random.Generator, i: int) -> set[str]:
    """Roughly: 15% no code, 10% clean, the rest one main condition plus a mild second one."""
    r = rng.random()
    if r < 0.10:
        return {"none"}
    if r < 0.16:
        return {"none", "hard_negative"}
    if r < 0.26:
        return {"clean"}
    main = ["small", "large", "rotated", "perspective", "curved", "blur", "motion", "glare",
            "low_contrast", "dim", "multi"]
    tags = {str(rng.choice(main))}
    if rng.random() < 0.35:
        tags.add(str(rng.choice(main)))
    if "small" in tags and "large" in tags:
        tags.discard("large")
    if "blur" in tags and "motion" in tags:
        tags.discard("motion")
    return tags


def make_frame(rng: np.random.Generator, tags: set[str]) -> tuple[np.ndarray, list[Placed]]:
    img = background(rng, hard_negative="hard_negative" in tags)
    placed: list[Placed] = []
    if "none" not in tags:
        occupied = np.zeros((H, W), np.uint8)
        count = int(rng.integers(2, 5)) if "multi" in tags else 1
        for _ in range(count * 3):
            if len(placed) == count:
                break
            fmt = str(rng.choice(FORMATS, p=FORMAT_WEIGHTS))
            tags_here = set(tags)
            if "multi" in tags and "large" not in tags:
                tags_here.add("small") if rng.random() < 0.3 else None
            p = place(img, occupied, rng, fmt, tags_here, _module_px(rng, fmt, tags_here))
            if p is not None:
                placed.append(p)
    frame = degrade(img, rng, tags, [p.polygon for p in placed])
    return frame, placed


def build_set(out: Path, seed: int, count: int) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    entries = []
    for i in range(count):
        tags = _tags_for(rng, i)
        frame, placed = make_frame(rng, tags)
        if "none" not in tags and not placed:
            tags = tags | {"none"}
        name = f"{i:04d}.png"
        cv2.imwrite(str(out / name), frame)
        entries.append({"file": name, "tags": sorted(tags),
                        "codes": [{"format": p.fmt, "text": p.text, "key": p.key, "polygon": p.polygon} for p in placed]})
    manifest = {"seed": seed, "count": count, "size": [W, H], "files": entries}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    return manifest


# --------------------------------------------------------------------------- live stream

def build_stream(path: Path, seed: int, shoppers: int = 40, fps: int = 30) -> dict:
    """A video of products passing under the camera, with what is in view frame by frame.

    Each pass: empty counter, the pack slides in (motion blur), is held still a moment (hand
    shake), and slides out; some packs are scanned twice on purpose after leaving view, some
    are held for a long time (must not be added twice). Written as MJPG AVI, like a USB camera.
    """
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (W, H))
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    frames: list[list[str]] = []  # keys whose whole symbol is in the picture, per frame
    passes = []
    slides: list[dict] = []  # one per time a pack passes under the camera: one expected scan
    idle = background(rng)
    idle_u8 = np.clip(idle, 0, 255).astype(np.uint8)
    for _ in range(shoppers):
        for _ in range(int(rng.integers(8, 20))):  # nothing in view
            writer.write(_jitter(idle_u8, rng))
            frames.append([])
        fmt = str(rng.choice(FORMATS, p=FORMAT_WEIGHTS))
        enc, text, key = payload(rng, fmt, items_only=True)
        modules = render_modules(fmt, enc)
        tags = {str(rng.choice(["clean", "rotated", "perspective", "curved", "glare", "low_contrast",
                                "small", "blur", "dim"]))}
        label, mask, corners = _label(rng, modules, fmt, _module_px(rng, fmt, tags), text if fmt in ("ean13", "ean8", "upca", "upce") else "",
                                      "low_contrast" in tags)
        if "curved" in tags:
            label, mask, corners = _curve(label, mask, corners, rng)
        pack = background(rng)
        repeats = 2 if rng.random() < 0.2 else 1
        hold = int(rng.integers(10, 25)) if rng.random() > 0.15 else int(rng.integers(90, 150))
        start = len(frames)
        for _ in range(repeats):
            slide_start = len(frames)
            hold_start = _slide(writer, frames, rng, idle, pack, label, mask, corners, key, tags, hold)
            full = [i for i in range(slide_start, len(frames)) if frames[i]]
            # a big code can be read with its bars cut at the top or bottom of the picture: every
            # slide counts; the latency clock starts when the whole symbol is in view (or, if it
            # never is, when the pack stops moving)
            held = slide_start + int(hold_start[0])
            slides.append({"key": key, "format": fmt, "start": slide_start, "end": len(frames) - 1,
                           "first_full": full[0] if full else held, "last_full": full[-1] if full else held,
                           "whole_in_view": bool(full), "tags": sorted(tags)})
            for _ in range(int(rng.integers(int(1.6 * fps), int(2.2 * fps))) if repeats > 1 else 0):
                writer.write(_jitter(idle_u8, rng))
                frames.append([])
        passes.append({"key": key, "format": fmt, "text": text, "scans": repeats, "first_frame": start,
                       "last_frame": len(frames) - 1, "tags": sorted(tags)})
    for _ in range(15):
        writer.write(_jitter(idle_u8, rng))
        frames.append([])
    writer.release()
    truth = {"seed": seed, "fps": fps, "frames": len(frames), "passes": passes, "slides": slides, "in_view": frames}
    path.with_suffix(".json").write_text(json.dumps(truth, ensure_ascii=False))
    return truth


def _jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(img.astype(np.int16) + rng.normal(0, 2.5, img.shape).astype(np.int16), 0, 255).astype(np.uint8)


def _slide(writer, frames, rng, idle, pack, label, mask, corners, key, tags, hold) -> tuple[int]:
    """Move the pack (with its label) in from an edge, hold it, move it out. Returns the frame
    (counted from the slide's first) where it stops moving."""
    lh, lw = label.shape[:2]
    angle = rng.uniform(0, 360) if "rotated" in tags else rng.normal(0, 10)
    steps_in, steps_out = int(rng.integers(4, 9)), int(rng.integers(4, 9))
    cx, cy = rng.uniform(0.35, 0.65) * W, rng.uniform(0.35, 0.65) * H
    side = rng.integers(0, 4)
    far = [(-0.6 * W, cy), (1.6 * W, cy), (cx, -0.7 * H), (cx, 1.7 * H)][side]
    path = ([(far[0] + (cx - far[0]) * t, far[1] + (cy - far[1]) * t, True) for t in np.linspace(0, 1, steps_in)]
            + [(cx + rng.normal(0, 2), cy + rng.normal(0, 2), False) for _ in range(hold)]
            + [(cx + (far[0] - cx) * t, cy + (far[1] - cy) * t, True) for t in np.linspace(0, 1, steps_out)])
    tilt = np.float32([[0, 0], [lw, 0], [lw, lh], [0, lh]])
    if "perspective" in tags:  # the pack tilted away: one edge of the label shorter
        edge = rng.integers(0, 4)
        a, b = edge, (edge + 1) % 4
        mid = (tilt[a] + tilt[b]) / 2
        squeeze = rng.uniform(0.1, 0.25)  # milder than the still set: a hand holds it steady
        tilt[a] += (mid - tilt[a]) * squeeze
        tilt[b] += (mid - tilt[b]) * squeeze
    glare = (rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(10, 30), rng.uniform(150, 250))
    sigma = rng.uniform(1.0, 1.8) if "blur" in tags else 0.6
    light = rng.uniform(0.3, 0.5) if "dim" in tags else 1.0
    prev = None
    for x, y, moving in path:
        frame = idle.copy()
        c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        src = np.float32([[0, 0], [lw, 0], [lw, lh], [0, lh]])
        rot = (tilt - [lw / 2, lh / 2]) @ np.float32([[c, -s], [s, c]]).T + [x, y]
        # the pack itself around the label
        pm = cv2.getPerspectiveTransform(np.float32([[0, 0], [W, 0], [W, H], [0, H]]),
                                         ((np.float32([[0, 0], [W, 0], [W, H], [0, H]]) - [W / 2, H / 2]) * 0.8
                                          @ np.float32([[c, -s], [s, c]]).T + [x, y]).astype(np.float32))
        pwarp = cv2.warpPerspective(pack, pm, (W, H), borderValue=0)
        pmask = cv2.warpPerspective(np.ones((H, W), np.float32), pm, (W, H), borderValue=0)[..., None]
        frame = frame * (1 - pmask) + pwarp * pmask
        m = cv2.getPerspectiveTransform(src, rot.astype(np.float32))
        warped = cv2.warpPerspective(label, m, (W, H), borderValue=0)
        wmask = cv2.warpPerspective(mask, m, (W, H), borderValue=0)[..., None]
        frame = frame * (1 - wmask) + warped * wmask
        if moving and prev is not None:
            dx, dy = x - prev[0], y - prev[1]
            length = max(1, int(min(40, math.hypot(dx, dy)) * 0.5))  # exposure ~ half the frame interval
            k = np.zeros((length * 2 + 1, length * 2 + 1), np.float32)
            cv2.line(k, (length, length), (int(length + dx / max(1, math.hypot(dx, dy)) * length),
                                           int(length + dy / max(1, math.hypot(dx, dy)) * length)), 1.0)
            k /= k.sum()
            frame = cv2.filter2D(frame, -1, k)
        prev = (x, y)
        sym = cv2.perspectiveTransform(corners[None], m)[0]
        inside = bool(((sym[:, 0] >= 0) & (sym[:, 0] < W) & (sym[:, 1] >= 0) & (sym[:, 1] < H)).all())
        if "glare" in tags:  # a highlight that stays on the pack as it moves
            gx, gy = sym[0] + (sym[1] - sym[0]) * glare[0] + (sym[3] - sym[0]) * glare[1]
            yy, xx = np.ogrid[0:H, 0:W]
            frame = frame + (np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * glare[2] ** 2)) * glare[3])[..., None]
        frame = cv2.GaussianBlur(frame, (0, 0), sigma) * light
        frame = frame + rng.normal(0, 2.5 / max(light, 0.5), frame.shape)
        writer.write(np.clip(frame, 0, 255).astype(np.uint8))
        frames.append([key] if inside else [])
    return (steps_in,)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=800)
    parser.add_argument("--out", type=Path, default=Path("bench/out/decode/set"))
    parser.add_argument("--video", type=Path, help="also write the live-stream video here (with a .json truth file)")
    parser.add_argument("--shoppers", type=int, default=40, help="product passes in the video")
    args = parser.parse_args(argv)
    if args.count:
        m = build_set(args.out, args.seed, args.count)
        print(f"wrote {len(m['files'])} frames and manifest.json to {args.out}")
    if args.video:
        t = build_stream(args.video, args.seed, args.shoppers)
        print(f"wrote {t['frames']} frames ({len(t['passes'])} passes) to {args.video}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
