"""The decoding pipeline: normal forms from both engines, hard frames, misread guards, bad input.

Frames are drawn here from rendered symbols (zxing-cpp's writer), so every expected value is
known exactly. Speed is measured in bench/decode, never here.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import zxingcpp

from kiosk.peripherals.camera import Code, Decoder, Pipeline, to_gray
from kiosk.peripherals.camera.decoder import _drop_partial_reads
from kiosk.peripherals.camera.engines import ZbarEngine, ZxingEngine, expand_upce, gs1_hri
from kiosk.peripherals.camera.regions import find_regions

F = zxingcpp.BarcodeFormat


def symbol(content: str | bytes, fmt: zxingcpp.BarcodeFormat, module: int = 3, **options) -> np.ndarray:
    """A rendered symbol, ``module`` pixels per module, quiet zones included, black on white."""
    barcode = zxingcpp.create_barcode(content, fmt, **options)
    return np.array(zxingcpp.write_barcode_to_image(barcode, scale=module, add_quiet_zones=True))


def frame_with(*placed: tuple[np.ndarray, int, int], size=(640, 480), background: int = 170) -> np.ndarray:
    """A BGR frame with the given images pasted at (x, y)."""
    w, h = size
    frame = np.full((h, w), background, np.uint8)
    for image, x, y in placed:
        ih, iw = image.shape
        frame[y:y + ih, x:x + iw] = image
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    h, w = image.shape
    side = int(math.hypot(w, h)) + 4
    canvas = np.full((side, side), 255, np.uint8)
    canvas[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = image
    m = cv2.getRotationMatrix2D((side / 2, side / 2), degrees, 1.0)
    return cv2.warpAffine(canvas, m, (side, side), borderValue=255)


@pytest.fixture(scope="module")
def decoder() -> Decoder:
    return Decoder()


def texts(codes: list[Code]) -> set[tuple[str, str]]:
    return {(c.symbology, c.text) for c in codes}


# ------------------------------------------------------------------ normal forms


@pytest.mark.parametrize("engine", [ZbarEngine(), ZxingEngine()], ids=["zbar", "zxing"])
@pytest.mark.parametrize("content, fmt, options, expected", [
    ("590123412345", F.EAN13, {}, ("ean13", "5901234123457")),
    ("03600029145", F.UPCA, {}, ("upca", "0036000291452")),  # UPC-A as 13 digits, both engines
    ("0123456", F.UPCE, {}, ("upce", "0012345000065")),  # UPC-E expanded
    ("9638507", F.EAN8, {}, ("ean8", "96385074")),
    ("M13800138000", F.Code128, {}, ("code128", "M13800138000")),
    ("(01)09501101531000(10)AB1(3103)000123", F.Code128, {"gs1": True},
     ("gs1-128", "(01)09501101531000(10)AB1(3103)000123")),
    ("0950110153100", F.DataBar, {}, ("databar", "(01)09501101531000")),
    ("(01)09501101531000(3103)000123", F.DataBarExp, {}, ("databar-exp", "(01)09501101531000(3103)000123")),
    ("KR1:ABCDEF123456", F.QRCode, {}, ("qr", "KR1:ABCDEF123456")),
    ("会员 M13800138000", F.QRCode, {}, ("qr", "会员 M13800138000")),
    ("(01)09501101531000(10)AB", F.QRCode, {"gs1": True}, ("gs1-qr", "(01)09501101531000(10)AB")),
])
def test_both_engines_give_the_same_normal_form(engine, content, fmt, options, expected):
    image = np.pad(symbol(content, fmt, **options), 30, constant_values=255)
    assert expected in texts(engine.scan(image))


@pytest.mark.parametrize("engine", [ZbarEngine(), ZxingEngine()], ids=["zbar", "zxing"])
def test_a_binary_qr_payload_is_marked_binary(engine):
    image = np.pad(symbol(b"\x00\xff\xfe\x01\x1bjunk", F.QRCode), 30, constant_values=255)
    (code,) = engine.scan(image)
    assert code.binary and code.text == b"\x00\xff\xfe\x01\x1bjunk".hex()


def test_upce_expansion_and_gs1_text():
    assert expand_upce("01234565") == "0012345000065"
    assert expand_upce("06543217") == "0065100004327"
    assert gs1_hri("0109501101531000\x1d10AB") == "(01)09501101531000(10)AB"
    assert gs1_hri("not gs1") is None


# ------------------------------------------------------------------ the pipeline


def test_reads_every_retail_format_in_one_frame(decoder):
    frame = frame_with(
        (symbol("690123456789", F.EAN13, 2), 10, 10),  # 226 x 110
        (symbol("(01)09501101531000(3103)000123", F.DataBarExp, 2), 230, 130),  # 400 x 68
        (symbol("C-FULL100-10", F.QRCode, 4), 20, 200),  # 116 x 116
        (symbol("9638507", F.EAN8, 2), 300, 10),  # 162 x 110
        (symbol("M13800138000", F.Code128, 2), 200, 340),  # 286 x 100
    )
    found = texts(decoder.decode(frame))
    assert {("ean13", "6901234567892"), ("databar-exp", "(01)09501101531000(3103)000123"),
            ("qr", "C-FULL100-10"), ("ean8", "96385074"), ("code128", "M13800138000")} <= found


@pytest.mark.parametrize("degrees", [30, 45, 135, 160])
def test_reads_a_code_at_any_angle(decoder, degrees):
    image = rotated(symbol("690123456789", F.EAN13, 2), degrees)
    frame = frame_with((image, 150, 60))
    assert ("ean13", "6901234567892") in texts(decoder.decode(frame))


def test_the_region_pass_reads_what_the_libraries_alone_miss():
    """A small EAN-13 (1.2 px per module) at 30 degrees: neither library reads it on the whole
    frame (with its default searches), the pipeline's straightened, enlarged crop does."""
    image = rotated(cv2.resize(symbol("690123456789", F.EAN13, 1), None, fx=1.2, fy=1.2,
                               interpolation=cv2.INTER_AREA), 30)
    frame = frame_with((image, 200, 120))
    gray = to_gray(frame)
    assert not ZbarEngine().scan(gray) and not ZxingEngine(rotate=True, downscale=True, invert=True).scan(gray)
    assert ("ean13", "6901234567892") in texts(Decoder().decode(frame))
    assert not Decoder(Pipeline(regions=False)).decode(frame)


def test_outlines_are_in_frame_coordinates(decoder):
    image = symbol("690123456789", F.EAN13, 2)
    (code,) = decoder.decode(frame_with((image, 200, 100)))
    xs = [p[0] for p in code.polygon]
    ys = [p[1] for p in code.polygon]
    assert 190 <= min(xs) and max(xs) <= 200 + image.shape[1] + 10
    assert 90 <= min(ys) and max(ys) <= 100 + image.shape[0] + 10


def test_decoding_is_a_function_of_the_frame_alone(decoder):
    """zbar keeps partial symbols between images unless its scanner is fresh: reads must not
    depend on the frames decoded before."""
    frames = [frame_with((symbol("0950110153100", F.DataBar, 1), 100 + i * 7, 100)) for i in range(6)]
    first = [texts(decoder.decode(f)) for f in frames]
    again = [texts(decoder.decode(f)) for f in reversed(frames)]
    assert first == list(reversed(again))


def test_regions_find_bars_whatever_their_direction():
    image = rotated(symbol("690123456789", F.EAN13, 2), 60)
    regions = find_regions(to_gray(frame_with((image, 150, 60))))
    bars = [r for r in regions if r.kind == "bars"]
    assert bars
    best = bars[0]
    # bars run at 60 degrees, so the gradient (across them) is at -60 or 120 degrees
    assert min(abs((best.angle + 60) % 180), abs((best.angle + 60) % 180 - 180)) < 8


# ------------------------------------------------------------------ misread guards


def test_a_upce_read_inside_an_ean13_is_dropped():
    ean = Code("ean13", "6901234567892", ((100, 100), (300, 100), (300, 160), (100, 160)), "zxing")
    part = Code("upce", "0012345000065", ((110, 120), (200, 120), (200, 121), (110, 121)), "zxing")
    assert _drop_partial_reads([ean, part], []) == [ean]


def test_a_upce_with_bars_where_its_quiet_zone_should_be_is_dropped():
    frame = frame_with((symbol("690123456789", F.EAN13, 2), 100, 100))  # bars from x=122 to 312
    gray = to_gray(frame)
    regions = find_regions(gray)
    part = Code("upce", "0012345000065", ((130, 150), (232, 150), (232, 151), (130, 151)), "zbar", quality=9)
    assert _drop_partial_reads([part], regions, gray) == []


def test_a_real_upce_and_an_ean8_beside_an_ean13_are_kept(decoder):
    frame = frame_with((symbol("0123456", F.UPCE, 2), 40, 40), (symbol("690123456789", F.EAN13, 2), 40, 250),
                       (symbol("9638507", F.EAN8, 2), 300, 250))
    found = texts(decoder.decode(frame))
    assert {("upce", "0012345000065"), ("ean13", "6901234567892"), ("ean8", "96385074")} <= found


def test_two_values_at_one_place_are_both_dropped():
    a = Code("ean13", "6901234567892", ((100, 100), (300, 100), (300, 160), (100, 160)), "zxing")
    b = Code("ean13", "6901234567885", ((102, 101), (298, 101), (298, 159), (102, 159)), "zbar", quality=5)
    elsewhere = Code("ean13", "5901234123457", ((400, 300), (600, 300), (600, 360), (400, 360)), "zxing")
    assert _drop_partial_reads([a, b, elsewhere], []) == [elsewhere]


def test_zbar_reads_seen_on_one_scan_line_only_are_not_trusted():
    decoder = Decoder()
    weak = Code("ean13", "6901234567892", ((0, 0),), "zbar", quality=1)
    strong = Code("ean13", "5901234123457", ((0, 0),), "zbar", quality=12)
    qr = Code("qr", "M13800138000", ((0, 0),), "zbar", quality=1)
    assert decoder._trusted([weak, strong, qr]) == [strong, qr]


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("frame", [
    np.zeros((0, 0, 3), np.uint8),
    np.zeros((1, 1, 3), np.uint8),
    np.zeros((480, 640, 3), np.uint8),
    np.full((480, 640), 255, np.uint8),
    np.zeros((5, 640, 3), np.uint8),
    np.zeros((480, 640, 4), np.uint8),
    np.zeros((480, 640, 3), np.float32),
    np.zeros((480, 640, 2), np.uint8),
    np.zeros((4, 4, 4, 4), np.uint8),
    np.zeros((480, 640, 3), np.uint16),
], ids=["empty", "1px", "black", "white-gray", "sliver", "bgra", "float", "2ch", "4d", "16bit"])
def test_odd_frames_give_no_codes_and_no_crash(decoder, frame):
    assert decoder.decode(frame) == []


def test_non_arrays_give_no_codes(decoder):
    assert decoder.decode(None) == []  # type: ignore[arg-type]
    assert decoder.decode(b"not an image") == []  # type: ignore[arg-type]


def test_noise_stripes_and_text_give_no_false_reads(decoder):
    rng = np.random.default_rng(5)
    for _ in range(5):
        noise = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
        assert decoder.decode(noise) == []
    stripes = np.full((480, 640), 230, np.uint8)
    x = 0
    while x < 640:
        width = int(rng.integers(1, 6))
        if rng.random() < 0.5:
            stripes[100:380, x:x + width] = 20
        x += width
    cv2.putText(stripes, "6901234567892 NET WT 500g", (20, 440), cv2.FONT_HERSHEY_SIMPLEX, 1, 0, 2)
    assert decoder.decode(stripes) == []
