"""The two open decoders behind one face: zbar (through pyzbar's ctypes binding) and zxing-cpp.

Each engine takes an 8-bit grayscale image and returns ``Code`` values in the kiosk's own
vocabulary, whichever library read them (DESIGN 6: zbar writes UPC-A as 13 digits and expands
UPC-E; zxing-cpp writes GS1 as ``(01)...``). Normal form:

- EAN-13, UPC-A and UPC-E: 13 digits (UPC as ``0`` + 12 digits, UPC-E expanded), like a scanner's
  ``]E0``; EAN-8: 8 digits. An EAN-13 starting with ``0`` *is* a UPC-A, so it is called ``upca``.
- GS1 symbols (GS1-128, DataBar, GS1 QR): the element string in brackets, ``(01)09501101531000(10)AB``.
- everything else: the text as encoded; a payload that is not UTF-8 text is marked ``binary``
  and its ``text`` is the hex of the bytes, so it can be shown but never taken for an item.

Both engines are restricted to retail formats, which costs no reads and saves time (DESIGN 6).
An engine keeps native state and is not thread-safe: one per decoding thread.
"""

from __future__ import annotations

from ctypes import POINTER, c_uint, c_void_p, string_at
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import zxingcpp
from biip.gs1_messages import GS1Message

RETAIL = ("ean13", "ean8", "upca", "upce", "code128", "gs1-128", "qr", "gs1-qr", "databar", "databar-exp")
TWO_D = frozenset({"qr", "gs1-qr"})
EAN_UPC = frozenset({"ean13", "ean8", "upca", "upce"})
GS1 = frozenset({"gs1-128", "gs1-qr", "databar", "databar-exp"})

Point = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Code:
    """One symbol found in an image, in frame coordinates."""

    symbology: str  # one of RETAIL
    text: str  # normal form, see the module docstring
    polygon: tuple[Point, ...] = ()
    engine: str = ""  # zbar | zxing
    binary: bool = False  # the payload is not UTF-8 text (``text`` is its hex)
    quality: int = 0  # zbar: scan lines that read this value (1D); 0 when the engine gives none

    @property
    def is_2d(self) -> bool:
        return self.symbology in TWO_D

    def moved(self, matrix: np.ndarray) -> Code:
        """The same code with its outline mapped through a 2x3 affine matrix."""
        if not self.polygon:
            return self
        pts = np.asarray(self.polygon, np.float64)
        out = pts @ matrix[:, :2].T + matrix[:, 2]
        poly = tuple((int(round(x)), int(round(y))) for x, y in out)
        return Code(self.symbology, self.text, poly, self.engine, self.binary, self.quality)


def gs1_hri(element_string: str) -> str | None:
    """``0109501101531000<GS>10AB`` -> ``(01)09501101531000(10)AB``; None if it is not GS1."""
    try:
        return GS1Message.parse(element_string).as_hri()
    except Exception:  # biip raises its own ParseError and sometimes ValueError/KeyError
        return None


def _ean_upc(symbology: str, digits: str) -> tuple[str, str] | None:
    if not digits.isdigit() or not digits.isascii():
        return None
    if symbology == "ean8":
        return ("ean8", digits) if len(digits) == 8 else None
    if symbology == "upce" and len(digits) == 8:
        digits = expand_upce(digits)
    if len(digits) == 12:
        digits = "0" + digits
    if len(digits) != 13:
        return None
    if symbology == "ean13" and digits[0] == "0":
        symbology = "upca"
    return symbology, digits


def expand_upce(code: str) -> str:
    """UPC-E as printed (number system, 6 digits, check) -> the 13-digit EAN form of its UPC-A."""
    ns, d, check = code[0], code[1:7], code[7]
    last = d[5]
    if last in "012":
        body = d[0:2] + last + "0000" + d[2:5]
    elif last == "3":
        body = d[0:3] + "00000" + d[3:5]
    elif last == "4":
        body = d[0:4] + "00000" + d[4]
    else:
        body = d[0:5] + "0000" + last
    return "0" + ns + body + check


def _text(data: bytes) -> tuple[str, bool]:
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.hex(), True


def _outline(points: list[Point]) -> tuple[Point, ...]:
    """zbar reports every scan-line crossing; the kiosk wants the enclosing rectangle."""
    if len(points) <= 4:
        return tuple(points)
    box = cv2.boxPoints(cv2.minAreaRect(np.asarray(points, np.float32)))
    return tuple((int(round(x)), int(round(y))) for x, y in box)


# --------------------------------------------------------------------------- zbar

_ZBAR_SYMBOLS = {8: "ean8", 9: "upce", 12: "upca", 13: "ean13", 34: "databar", 35: "databar-exp",
                 64: "qr", 128: "code128"}
_CFG_ENABLE, _CFG_BINARY, _CFG_X_DENSITY, _CFG_Y_DENSITY = 0, 4, 0x100, 0x101
_MOD_GS1 = 1 << 0
_Y800 = 0x30303859  # fourcc of 8-bit grey


class ZbarEngine:
    """zbar through pyzbar's ctypes binding.

    ``density`` is zbar's scan-line stride in pixels (1 = every row and column): 2 halves the
    time for a small loss on tiny codes, which the kiosk's extra passes make up for.
    ``rows_only`` scans rows only: for crops already turned so the bars stand upright.
    zbar's decoders keep partial symbols (DataBar segments) from one image to the next, which
    would make a read depend on the frames before it; a fresh scanner per image (about 20 us)
    keeps every read a function of its own image.
    """

    name = "zbar"

    def __init__(self, density: int = 1, qr: bool = True, rows_only: bool = False) -> None:
        from pyzbar import wrapper as zw  # loads libzbar; a missing library fails here, clearly

        self._zw = zw
        self._modifiers = zw.zbar_function("zbar_symbol_get_modifiers", c_uint, POINTER(zw.zbar_symbol))
        self._config = [(0, _CFG_ENABLE, 0)]
        self._config += [(sym, _CFG_ENABLE, 1) for sym, name in _ZBAR_SYMBOLS.items() if name != "qr" or qr]
        # QR bytes as they are: zbar's own charset guessing turns binary payloads into text
        self._config += [(64, _CFG_BINARY, 1), (0, _CFG_X_DENSITY, 0 if rows_only else density),
                         (0, _CFG_Y_DENSITY, density)]

    def scan(self, gray: np.ndarray) -> list[Code]:
        zw = self._zw
        gray = np.ascontiguousarray(gray, dtype=np.uint8)
        if gray.ndim != 2 or gray.shape[0] < 8 or gray.shape[1] < 8:
            return []
        h, w = gray.shape
        scanner = zw.zbar_image_scanner_create()
        if not scanner:
            raise MemoryError("zbar could not create an image scanner")
        image = zw.zbar_image_create()
        codes: list[Code] = []
        try:
            for sym, cfg, value in self._config:
                zw.zbar_image_scanner_set_config(scanner, sym, cfg, value)
            zw.zbar_image_set_format(image, _Y800)
            zw.zbar_image_set_size(image, w, h)
            zw.zbar_image_set_data(image, c_void_p(gray.ctypes.data), gray.nbytes, None)
            if zw.zbar_scan_image(scanner, image) <= 0:
                return codes
            sym = zw.zbar_image_first_symbol(image)
            while sym:
                code = self._code(sym)
                if code is not None:
                    codes.append(code)
                sym = zw.zbar_symbol_next(sym)
        finally:
            zw.zbar_image_destroy(image)
            zw.zbar_image_scanner_destroy(scanner)
        return codes

    def _code(self, sym) -> Code | None:
        zw = self._zw
        name = _ZBAR_SYMBOLS.get(sym.contents.type)
        if name is None:
            return None
        data = string_at(zw.zbar_symbol_get_data(sym), zw.zbar_symbol_get_data_length(sym))
        poly = _outline([(zw.zbar_symbol_get_loc_x(sym, i), zw.zbar_symbol_get_loc_y(sym, i))
                         for i in range(zw.zbar_symbol_get_loc_size(sym))])
        gs1 = bool(self._modifiers(sym) & _MOD_GS1)
        quality = int(zw.zbar_symbol_get_quality(sym))
        if name in EAN_UPC:
            norm = _ean_upc(name, data.decode("ascii", "replace"))
            return Code(norm[0], norm[1], poly, "zbar", quality=quality) if norm else None
        if name in ("databar", "databar-exp") or gs1:
            hri = gs1_hri(data.decode("latin-1"))
            if hri is None:
                return None  # a GS1 symbol whose content is not GS1: a misread
            symbology = {"code128": "gs1-128", "qr": "gs1-qr"}.get(name, name)
            return Code(symbology, hri, poly, "zbar", quality=quality)
        text, binary = _text(data)
        return Code(name, text, poly, "zbar", binary, quality)


# --------------------------------------------------------------------------- zxing-cpp

_F = zxingcpp.BarcodeFormat
_ZXING_FORMATS = [_F.EAN13, _F.EAN8, _F.UPCA, _F.UPCE, _F.Code128, _F.QRCode, _F.DataBar, _F.DataBarExp,
                  _F.DataBarLtd]
_ZXING_NAMES = {_F.EAN13: "ean13", _F.EAN8: "ean8", _F.UPCA: "upca", _F.UPCE: "upce", _F.Code128: "code128",
                _F.QRCode: "qr"}


def _zxing_name(fmt: zxingcpp.BarcodeFormat) -> str | None:
    name = _ZXING_NAMES.get(fmt)
    if name:
        return name
    label = str(fmt)
    if "DataBar" in label:
        return "databar-exp" if "Exp" in label else "databar"
    return None


class ZxingEngine:
    """zxing-cpp restricted to retail formats. ``rotate``/``downscale``/``invert`` are its own
    extra searches (90-degree turns, smaller scales, light-on-dark)."""

    name = "zxing"

    def __init__(self, rotate: bool = True, downscale: bool = True, invert: bool = False,
                 binarizer: str = "local") -> None:
        self._kw: dict[str, Any] = dict(formats=_ZXING_FORMATS, try_rotate=rotate, try_downscale=downscale, try_invert=invert,
                        text_mode=zxingcpp.TextMode.HRI,
                        binarizer={"local": zxingcpp.Binarizer.LocalAverage,
                                   "global": zxingcpp.Binarizer.GlobalHistogram}[binarizer])

    def scan(self, gray: np.ndarray) -> list[Code]:
        gray = np.ascontiguousarray(gray, dtype=np.uint8)
        if gray.ndim != 2 or gray.shape[0] < 8 or gray.shape[1] < 8:
            return []
        codes = []
        for r in zxingcpp.read_barcodes(gray, **self._kw):
            code = self._code(r)
            if code is not None:
                codes.append(code)
        return codes

    @staticmethod
    def _code(r) -> Code | None:
        name = _zxing_name(r.format)
        if name is None or not r.valid:
            return None
        p = r.position
        poly = tuple((int(q.x), int(q.y)) for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left))
        if name in EAN_UPC:
            norm = _ean_upc(name, r.text)
            return Code(norm[0], norm[1], poly, "zxing") if norm else None
        if r.content_type == zxingcpp.ContentType.GS1:
            symbology = {"code128": "gs1-128", "qr": "gs1-qr"}.get(name, name)
            return Code(symbology, r.text, poly, "zxing")
        if name in ("databar", "databar-exp"):
            return None
        if r.content_type in (zxingcpp.ContentType.Binary, zxingcpp.ContentType.Mixed):
            text, binary = _text(bytes(r.bytes))
            return Code(name, text, poly, "zxing", binary)
        return Code(name, r.text, poly, "zxing")
