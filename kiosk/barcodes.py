"""What a scanned code means at the till.

Every scan (camera decoder, HID scanner, simulator step) goes through :func:`parse_scan` and
comes back as one small frozen value: a ``Product``, a weighed or priced ``VariableMeasure``
label, a ``Member`` card, a ``Coupon``, a ``StaffBadge``, a ``ReceiptToken``, or ``Unknown``
with a reason. ``parse_scan`` never raises: a scanner can send anything, and a bad code must
show "item not found", not stop the lane (DESIGN 5).

How a scan is read, in order:

1. Text longer than 512 characters is ``Unknown`` before any other work (no barcode is that long;
   it is a stuck key or junk on the serial line). Surrounding whitespace, CR and LF are stripped.
2. An AIM symbology identifier (``]E0``, ``]E4``, ``]C1``, ``]e0``, ``]Q3`` ...) at the start is
   removed and used as a hint; otherwise the ``symbology`` argument (a decoder's format name such
   as ``"UPCE"``, ``"EAN8"``, ``"DataBar"``, or an AIM id) is the hint.
3. Control characters other than GS (ASCII 29, the FNC1 separator) make the scan ``Unknown``.
4. GS1 element strings (``]C1``/``]e0``/``]d2``/``]Q3``/``]J1``, text with GS, the ``(01)...``
   human-readable form that zxing-cpp writes for DataBar, more than 14 digits, or a GS1 Digital
   Link URL) must carry AI 01; AI 310x (net kg) gives ``weight_g`` and 392x (or 393x in CNY,
   ISO 4217 code 156) gives ``price``.
5. All-digit text is a product number, never a member, staff or coupon code:
   - 8 digits are EAN-8 when their check digit is valid, except when the hint says UPC-E
     (``symbology="upce"`` or AIM ``]E0``, which covers EAN-13/UPC but not EAN-8) or AIM ``]E4``
     says EAN-8 only. 8 digits that fail the EAN-8 check but are a valid UPC-E are expanded.
     A UPC-E whose digits happen to pass the EAN-8 check too is therefore read as EAN-8 unless
     the decoder says UPC-E; zbar sends UPC-E already expanded, zxing-cpp names its format.
   - 6 and 7 digits are UPC-E only when the hint says so (7 = number system + 6, as in biip).
   - 12 (UPC-A), 13 (EAN-13, and zbar's UPC-A with a leading 0) and 14 (ITF-14) digits are GTINs.
   Every product number is normalised to GTIN-14, the catalog's key (DESIGN 6).
6. A 12- or 13-digit code whose EAN-13 form starts with a configured variable-measure prefix
   (20-29 by default) is a ``VariableMeasure`` label read with the first matching layout.
   A restricted-circulation code that matches no layout stays a ``Product`` (fixed in-store codes).
7. Anything else is matched against the configured prefixes, longest first: receipt ``KR1:``,
   coupon ``C-``, member ``M``, staff ``S``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from kiosk.config import BarcodesSection, VariableMeasureLayout
from kiosk.money import Money

if TYPE_CHECKING:
    from biip.gs1_element_strings import GS1ElementString

MAX_SCAN_CHARS = 512
GS = "\x1d"  # ASCII group separator: how scanners send FNC1 between GS1 element strings

CNY_NUMERIC = "156"  # ISO 4217 numeric code in AI 393x

_log = logging.getLogger(__name__)

_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also accepts "٣" and "²"
_AIM_ID = re.compile(r"\][A-Za-z][0-9A-Za-z]")
_CONTROL = re.compile(r"[\x00-\x1c\x1e\x1f\x7f-\x9f]")  # everything but GS
_MEMBER_BODY = re.compile(r"[A-Za-z0-9]{6,20}")
_COUPON_BODY = re.compile(r"[A-Z0-9-]{1,40}")
_STAFF_BODY = re.compile(r"([0-9]{4,10})(?::([0-9]{4,8}))?")
_RECEIPT_BODY = re.compile(r"[A-Za-z0-9_-]{8,64}")
_PIN_LIKE = re.compile(r":[0-9]+")
_GTIN_LENGTHS = (8, 12, 13, 14)


class ScanKind(StrEnum):
    PRODUCT = "product"
    VARIABLE_MEASURE = "variable_measure"
    MEMBER = "member"
    COUPON = "coupon"
    STAFF_BADGE = "staff_badge"
    RECEIPT_TOKEN = "receipt_token"
    UNKNOWN = "unknown"


# Each result keeps the raw scan in ``text`` (keyword-only, so the meaningful fields can be given
# positionally) and its ``kind`` as a class constant, so a result can never claim the wrong kind.


@dataclass(frozen=True, slots=True)
class Product:
    """A trade item by GTIN-14; DataBar/GS1-128 may also carry its net weight and price."""

    kind: ClassVar[ScanKind] = ScanKind.PRODUCT
    gtin: str
    weight_g: int | None = None
    price: Money | None = None
    text: str = field(default="", kw_only=True)


@dataclass(frozen=True, slots=True)
class VariableMeasure:
    """A scale or price label (EAN-13 prefix 20-29 by default).

    ``lookup_gtin`` is the GTIN-14 with the value, its embedded check and any ignored digits set to
    zero and the check digit recomputed (as biip's ``without_variable_measure``), so every label of
    one item finds the same catalog row. ``plu`` is the item-code digits as printed, leading zeros
    kept ("04011"). Exactly one of ``price`` and ``weight_g`` is set, by the layout's ``value``.
    """

    kind: ClassVar[ScanKind] = ScanKind.VARIABLE_MEASURE
    lookup_gtin: str
    plu: str
    price: Money | None = None
    weight_g: int | None = None
    text: str = field(default="", kw_only=True)


@dataclass(frozen=True, slots=True, repr=False)
class Member:
    """A member card or phone code; ``member_id`` is what follows the member prefix."""

    kind: ClassVar[ScanKind] = ScanKind.MEMBER
    member_id: str
    text: str = field(default="", kw_only=True)

    def __repr__(self) -> str:  # member ids are often phone numbers: keep them out of logs
        return f"Member(member_id={mask_member_id(self.member_id)!r})"


@dataclass(frozen=True, slots=True)
class Coupon:
    """A store coupon; ``code`` keeps the coupon prefix ("C-FULL100-10")."""

    kind: ClassVar[ScanKind] = ScanKind.COUPON
    code: str
    text: str = field(default="", kw_only=True)


@dataclass(frozen=True, slots=True, repr=False)
class StaffBadge:
    """An attendant badge. ``staff_id`` keeps the prefix, as staff accounts do ("S0001");
    ``pin`` is set when the badge text carries ":PIN" (the simulator's "S0001:2468")."""

    kind: ClassVar[ScanKind] = ScanKind.STAFF_BADGE
    staff_id: str
    pin: str | None = None
    text: str = field(default="", kw_only=True)

    def __repr__(self) -> str:  # PINs are never logged (DESIGN 5)
        pin = None if self.pin is None else "****"
        return f"StaffBadge(staff_id={self.staff_id!r}, pin={pin!r})"


@dataclass(frozen=True, slots=True)
class ReceiptToken:
    """The QR printed on a receipt, for returns and order lookup; ``token`` is after the prefix."""

    kind: ClassVar[ScanKind] = ScanKind.RECEIPT_TOKEN
    token: str
    text: str = field(default="", kw_only=True)


@dataclass(frozen=True, slots=True)
class Unknown:
    """Nothing the kiosk can use; ``reason`` is for logs and the attendant, not the shopper."""

    kind: ClassVar[ScanKind] = ScanKind.UNKNOWN
    reason: str
    text: str = field(default="", kw_only=True)


ScanResult = Product | VariableMeasure | Member | Coupon | StaffBadge | ReceiptToken | Unknown


# --- GS1 numbers ---------------------------------------------------------------------------


def check_digit(body: str) -> str:
    """GS1 mod-10 check digit (General Specifications 7.9.1) for the digits before the check.

    Weights 3, 1, 3, 1 ... from the right; the same rule serves GTIN-8/12/13/14, SSCC and GLN.
    Raises ValueError when ``body`` is empty or not ASCII digits (a programming error: scan text
    goes through :func:`is_valid_gtin` or :func:`parse_scan`, which never raise).
    """
    if not isinstance(body, str) or not _DIGITS.fullmatch(body):
        raise ValueError(f"a GS1 check digit needs ASCII digits, got {body!r}")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str(-total % 10)


def is_valid_gtin(digits: str) -> bool:
    """True for an 8, 12, 13 or 14 digit GTIN whose check digit is right."""
    return (
        isinstance(digits, str)
        and len(digits) in _GTIN_LENGTHS
        and _DIGITS.fullmatch(digits) is not None
        and check_digit(digits[:-1]) == digits[-1]
    )


def to_gtin14(digits: str) -> str | None:
    """GTIN-8/12/13/14 as the zero-padded GTIN-14 the catalog is keyed by; None if invalid."""
    return digits.zfill(14) if is_valid_gtin(digits) else None


def expand_upce(upce: str) -> str | None:
    """Expand a zero-suppressed UPC-E to its 12-digit UPC-A (GS1 General Specifications 5.2.2.4.2).

    Accepts 6 digits (number system 0 implied, no check), 7 (number system + 6, no check) or 8
    (number system + 6 + check). Only number systems 0 and 1 exist in UPC-E. Returns None when
    the input is not such a code or the given check digit is wrong.
    """
    if not isinstance(upce, str) or len(upce) not in (6, 7, 8) or not _DIGITS.fullmatch(upce):
        return None
    if len(upce) == 6:
        system, core, given = "0", upce, None
    else:
        system, core, given = upce[0], upce[1:7], (upce[7] if len(upce) == 8 else None)
    if system not in ("0", "1"):
        return None
    last = core[5]
    if last in "012":
        manufacturer, item = core[0:2] + last + "00", "00" + core[2:5]
    elif last == "3":
        manufacturer, item = core[0:3] + "00", "000" + core[3:5]
    elif last == "4":
        manufacturer, item = core[0:4] + "0", "0000" + core[4]
    else:
        manufacturer, item = core[0:5], "0000" + last
    body = system + manufacturer + item
    check = check_digit(body)
    if given is not None and given != check:
        return None
    return body + check


# Lookup tables for the price/weight check digit inside a variable-measure number
# (GS1 General Specifications 7.9.2). Index = digit, value = weighted product digit.
_TWO_MINUS = (0, 2, 4, 6, 8, 9, 1, 3, 5, 7)
_THREE = (0, 3, 6, 9, 2, 5, 8, 1, 4, 7)
_FIVE_PLUS = (0, 5, 1, 6, 2, 7, 3, 8, 4, 9)
_FIVE_MINUS = (0, 5, 9, 4, 8, 3, 7, 2, 6, 1)


def price_weight_check_digit(value: str) -> str:
    """The check digit for a 4- or 5-digit price or weight embedded in an RCN (GS1 7.9.3-7.9.4).

    4 digits: weights 2-, 2-, 3, 5-; check = (sum x 3) mod 10 ("2875" -> "9").
    5 digits: weights 5+, 2-, 5-, 5+, 2-; r = (10 - sum mod 10) mod 10, and the check is the digit
    whose 5- product is r ("14685" -> "6"). Many web answers stop at r (7 here): that is wrong.
    Raises ValueError for other input.
    """
    if not isinstance(value, str) or len(value) not in (4, 5) or not _DIGITS.fullmatch(value):
        raise ValueError(f"a price/weight check digit needs 4 or 5 ASCII digits, got {value!r}")
    d = [int(c) for c in value]
    if len(d) == 4:
        total = _TWO_MINUS[d[0]] + _TWO_MINUS[d[1]] + _THREE[d[2]] + _FIVE_MINUS[d[3]]
        return str(total * 3 % 10)
    total = (
        _FIVE_PLUS[d[0]]
        + _TWO_MINUS[d[1]]
        + _FIVE_MINUS[d[2]]
        + _FIVE_PLUS[d[3]]
        + _TWO_MINUS[d[4]]
    )
    return str(_FIVE_MINUS.index(-total % 10))


# --- variable-measure layouts ----------------------------------------------------------------


def layout_error(layout: VariableMeasureLayout) -> str | None:
    """What is wrong with a variable-measure layout, or None when it can be used.

    Prefixes must stay in restricted-circulation space (2x, or 02x/04x for UPC-A number system
    2/4): a prefix like "6" would turn every Chinese product into a price label.
    """
    pattern = layout.pattern
    if len(pattern) != 12:
        return f"pattern must have 12 letters, one per data digit; got {len(pattern)}"
    if set(pattern) - set("PIVCX"):
        return "pattern may only use P (prefix), I (item code), V (value), C (check), X (ignored)"
    values, checks = pattern.count("V"), pattern.count("C")
    if values == 0:
        return "pattern has no V (value) digits"
    if checks > 1:
        return "pattern may have at most one C"
    if checks and values not in (4, 5):
        return "an embedded check digit C needs exactly 4 or 5 V digits"
    if layout.value not in ("price", "weight"):
        return f"value must be price or weight, got {layout.value!r}"
    if not 0 <= layout.decimals <= 3:
        return f"decimals must be 0 to 3, got {layout.decimals!r}"
    if not layout.prefixes:
        return "no prefixes"
    for prefix in layout.prefixes:
        if (
            not isinstance(prefix, str)
            or not _DIGITS.fullmatch(prefix)
            or len(prefix) > 12
            or not prefix.startswith(("2", "02", "04"))
        ):
            return f"prefix {prefix!r} is not a restricted-circulation prefix (2x, 02x or 04x)"
    return None


def _read_label(text: str, ean13: str, layout: VariableMeasureLayout) -> ScanResult:
    """Read a valid EAN-13 (outer check already verified) with a variable-measure layout."""
    problem = layout_error(layout)
    if problem:
        return Unknown(
            f"variable-measure layout {layout.pattern!r} is unusable: {problem}", text=text
        )
    data = ean13[:12]

    def digits_marked(letter: str) -> str:
        return "".join(d for d, p in zip(data, layout.pattern, strict=True) if p == letter)

    value_digits = digits_marked("V")
    embedded = digits_marked("C")
    if embedded and embedded != price_weight_check_digit(value_digits):
        return Unknown(f"price/weight check digit is wrong in label {ean13}", text=text)
    lookup_body = "".join(
        "0" if p in "VCX" else d for d, p in zip(data, layout.pattern, strict=True)
    )
    lookup_gtin = (lookup_body + check_digit(lookup_body)).zfill(14)
    plu = digits_marked("I")
    value = int(value_digits)
    if layout.value == "weight":
        weight_g = value * 10 ** (3 - layout.decimals)
        return VariableMeasure(lookup_gtin, plu, price=None, weight_g=weight_g, text=text)
    if layout.decimals <= 2:
        fen = value * 10 ** (2 - layout.decimals)
    else:
        fen, rest = divmod(value, 10 ** (layout.decimals - 2))
        if rest:
            return Unknown(f"label price has fractions of a fen: {ean13}", text=text)
    return VariableMeasure(lookup_gtin, plu, price=Money(fen), weight_g=None, text=text)


def _product_or_label(text: str, gtin: str, settings: BarcodesSection) -> ScanResult:
    """A valid 12/13-digit GTIN: a variable-measure label if a layout claims its prefix."""
    ean13 = gtin.zfill(13)
    for layout in settings.variable_measure:
        if any(isinstance(p, str) and p and ean13.startswith(p) for p in layout.prefixes):
            return _read_label(text, ean13, layout)
    return Product(ean13.zfill(14), text=text)


# --- symbology hints --------------------------------------------------------------------------


class _Hint(Enum):
    EAN_UPC = "EAN-13, UPC-A or UPC-E"  # AIM ]E0: 8 digits here mean UPC-E
    EAN_ADDON = "EAN/UPC with add-on"  # AIM ]E3
    EAN8 = "EAN-8"
    UPCE = "UPC-E"
    GS1 = "GS1 element string"


_AIM_HINTS = {
    "]E0": _Hint.EAN_UPC,
    "]E3": _Hint.EAN_ADDON,
    "]E4": _Hint.EAN8,
    "]C1": _Hint.GS1,
    "]e0": _Hint.GS1,
    "]e1": _Hint.GS1,
    "]e2": _Hint.GS1,
    "]d2": _Hint.GS1,
    "]Q3": _Hint.GS1,
    "]J1": _Hint.GS1,
}

# Decoder format names (pyzbar, zxing-cpp, scanner SDKs), lowercased with punctuation removed.
_NAME_HINTS = {
    "upce": _Hint.UPCE,
    "upce0": _Hint.UPCE,
    "upce1": _Hint.UPCE,
    "ean8": _Hint.EAN8,
    "gs1128": _Hint.GS1,
    "databar": _Hint.GS1,
    "databarexp": _Hint.GS1,
    "databarexpanded": _Hint.GS1,
    "databarlimited": _Hint.GS1,
    "gs1databar": _Hint.GS1,
    "rss14": _Hint.GS1,
    "rssexpanded": _Hint.GS1,
    "gs1datamatrix": _Hint.GS1,
    "gs1qr": _Hint.GS1,
    "gs1qrcode": _Hint.GS1,
}


def _hint_from_name(symbology: str | None) -> _Hint | None:
    if not isinstance(symbology, str):
        return None
    if _AIM_ID.fullmatch(symbology):
        return _AIM_HINTS.get(symbology)
    return _NAME_HINTS.get("".join(c for c in symbology.lower() if c.isascii() and c.isalnum()))


# --- the scan ---------------------------------------------------------------------------------


def parse_scan(
    text: str, settings: BarcodesSection | None = None, symbology: str | None = None
) -> ScanResult:
    """Say what a scanned text is (see the module docstring for the rules). Never raises."""
    try:
        return _parse(text, settings if settings is not None else BarcodesSection(), symbology)
    except Exception:  # a parser bug must cost one scan, not the lane; the text is not logged
        _log.exception("barcode parser failed")
        return Unknown(
            "internal error while reading this code", text=text if isinstance(text, str) else ""
        )


def _parse(text: str, settings: BarcodesSection, symbology: str | None) -> ScanResult:
    if not isinstance(text, str):
        return Unknown(f"scan is {type(text).__name__}, not text", text="")
    if len(text) > MAX_SCAN_CHARS:
        return Unknown(
            f"too long: {len(text)} characters, a barcode has at most {MAX_SCAN_CHARS}", text=text
        )
    body = text.strip()
    hint = _hint_from_name(symbology)
    aim = _AIM_ID.match(body)
    if aim:
        body = body[3:]
        hint = _AIM_HINTS.get(aim.group(), hint)
    if not body:
        return Unknown("empty scan", text=text)
    if _CONTROL.search(body):
        return Unknown("contains control characters", text=text)
    all_digits = _DIGITS.fullmatch(body) is not None

    if hint is _Hint.EAN_ADDON and all_digits and len(body) in (15, 18):
        body, all_digits = body[:13], True  # the 2- or 5-digit add-on (issue, price) is not needed
    if hint is _Hint.GS1 and all_digits and len(body) in _GTIN_LENGTHS:
        # a scanner set up to send DataBar as a bare GTIN, with the DataBar AIM id
        return _parse_digits(text, body, settings, None)
    if body.startswith(("http://", "https://", "HTTP://", "HTTPS://")):
        return _parse_digital_link(text, body)
    if hint is _Hint.GS1 or body.startswith("(") or GS in body or (all_digits and len(body) > 14):
        return _parse_gs1(text, body)
    if all_digits:
        return _parse_digits(text, body, settings, hint)
    return _parse_prefixed(text, body, settings)


def _parse_digits(
    text: str, digits: str, settings: BarcodesSection, hint: _Hint | None
) -> ScanResult:
    n = len(digits)
    if n in (6, 7, 8) and hint in (_Hint.UPCE, _Hint.EAN_UPC):
        upca = expand_upce(digits)
        if upca is None:
            return Unknown(f"not a valid UPC-E: {digits}", text=text)
        return _product_or_label(text, upca, settings)
    if n == 8:
        if is_valid_gtin(digits):
            return Product(digits.zfill(14), text=text)
        upca = None if hint is _Hint.EAN8 else expand_upce(digits)
        if upca is None:
            return Unknown(f"bad check digit: {digits}", text=text)
        return _product_or_label(text, upca, settings)
    if n in (12, 13):
        if not is_valid_gtin(digits):
            return Unknown(f"bad check digit: {digits}", text=text)
        return _product_or_label(text, digits, settings)
    if n == 14:
        if not is_valid_gtin(digits):
            return Unknown(f"bad check digit: {digits}", text=text)
        return Product(digits, text=text)
    return Unknown(f"wrong length: {n} digits, a product number has 8, 12, 13 or 14", text=text)


def _parse_gs1(text: str, body: str) -> ScanResult:
    """A GS1 element string, raw (GS separated) or in "(AI)value" form, via biip."""
    # Imported here: biip costs ~0.1 s to import (more on a Pi) and most scans are plain EAN-13.
    from biip import ParseConfig
    from biip.gs1_messages import GS1Message

    # A product scan does not care about dates, and some labels carry all-zero ones.
    config = ParseConfig(gs1_element_strings_verify_date=False)
    try:
        if body.startswith("("):
            message = GS1Message.parse_hri(body, config=config)
        else:
            message = GS1Message.parse(body, config=config)
    except Exception as exc:  # biip raises ParseError, and ValueError on odd input
        return Unknown(f"not a GS1 element string: {exc}", text=text)
    return _from_element_strings(text, list(message.element_strings))


def _parse_digital_link(text: str, body: str) -> ScanResult:
    """A GS1 Digital Link URL (https://id.gs1.org/01/...) as printed in GS1 QR codes."""
    from biip import ParseConfig
    from biip.gs1_digital_link_uris import GS1DigitalLinkURI

    try:
        link = GS1DigitalLinkURI.parse(
            body, config=ParseConfig(gs1_element_strings_verify_date=False)
        )
    except Exception:
        return Unknown("a web address, not a product code", text=text)
    return _from_element_strings(text, list(link.element_strings))


def _from_element_strings(text: str, elements: list[GS1ElementString]) -> ScanResult:
    gtin_element = next((e for e in elements if e.ai.ai == "01"), None)
    if gtin_element is None:
        return Unknown("GS1 code without a product number (AI 01)", text=text)
    gtin = to_gtin14(gtin_element.value)
    if gtin is None:
        return Unknown(f"bad check digit in GS1 product number {gtin_element.value}", text=text)
    weight_g: int | None = None
    price: Money | None = None
    for element in elements:
        ai, amount = element.ai.ai, element.decimal
        if amount is None:
            continue
        if ai.startswith("310") and weight_g is None:  # net weight, kg
            weight_g = int((amount * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        elif ai.startswith(("392", "393")) and price is None:  # amount payable
            if ai.startswith("393") and element.pattern_groups[0] != CNY_NUMERIC:
                return Unknown(f"price in currency {element.pattern_groups[0]}, not CNY", text=text)
            fen = amount * 100
            if fen != fen.to_integral_value():
                return Unknown(f"price has fractions of a fen: {amount}", text=text)
            price = Money(int(fen))
    return Product(gtin, weight_g=weight_g, price=price, text=text)


def _parse_prefixed(text: str, body: str, settings: BarcodesSection) -> ScanResult:
    """Member, coupon, staff and receipt codes, told apart by their configured prefixes.

    The longest prefix is tried first, so "C-" wins over a member prefix "C". When a prefix matches
    but the rest does not fit, the next one is tried, and the first complaint becomes the reason.
    """
    readers = [
        (settings.receipt_prefix, _receipt),
        (settings.coupon_prefix, _coupon),
        (settings.member_prefix, _member),
        (settings.staff_prefix, _staff),
    ]
    readers.sort(key=lambda r: -len(r[0]))
    complaint = None
    for prefix, read in readers:
        if not prefix or not body.startswith(prefix):
            continue
        found = read(text, prefix, body[len(prefix) :])
        if not isinstance(found, str):
            return found
        complaint = complaint or found
    return Unknown(complaint or "not a product, member, coupon, staff or receipt code", text=text)


def _member(text: str, prefix: str, rest: str) -> ScanResult | str:
    if _MEMBER_BODY.fullmatch(rest):
        return Member(rest, text=text)
    return f"member code needs 6 to 20 letters or digits after {prefix!r}"


def _coupon(text: str, prefix: str, rest: str) -> ScanResult | str:
    if _COUPON_BODY.fullmatch(rest):
        return Coupon(prefix + rest, text=text)
    return f"coupon code needs 1 to 40 of A-Z, 0-9 and '-' after {prefix!r}"


def _staff(text: str, prefix: str, rest: str) -> ScanResult | str:
    found = _STAFF_BODY.fullmatch(rest)
    if found:
        return StaffBadge(prefix + found.group(1), found.group(2), text=text)
    return f"staff badge needs 4 to 10 digits after {prefix!r}, then optionally ':' and a 4 to 8 digit PIN"


def _receipt(text: str, prefix: str, rest: str) -> ScanResult | str:
    if _RECEIPT_BODY.fullmatch(rest):
        return ReceiptToken(rest, text=text)
    return f"receipt code needs 8 to 64 of A-Z, a-z, 0-9, '_' and '-' after {prefix!r}"


# --- for JSON output ----------------------------------------------------------------------------


def mask_member_id(member_id: str) -> str:
    """A member id fit for logs: "13800138000" -> "138****8000", as Chinese receipts show phones."""
    if len(member_id) >= 11:
        return member_id[:3] + "*" * (len(member_id) - 7) + member_id[-4:]
    return "*" * (len(member_id) - 2) + member_id[-2:]


def describe(result: ScanResult, *, reveal_private: bool = False) -> dict[str, Any]:
    """The result as a JSON-ready dict for ``kiosk decode --json`` and the simulator's events.

    Amounts are yuan strings with two decimals ("12.34"), absent values are null. Member ids are
    masked unless ``reveal_private`` (output may reach logs, which never hold full phone numbers);
    a staff PIN is never shown, only ``has_pin``. ``text`` is cut to 512 characters.
    """
    out: dict[str, Any] = {"kind": result.kind.value}
    text = result.text[:MAX_SCAN_CHARS]
    match result:
        case Product():
            out.update(gtin=result.gtin, weight_g=result.weight_g, price=_yuan(result.price))
        case VariableMeasure():
            out.update(
                lookup_gtin=result.lookup_gtin,
                plu=result.plu,
                price=_yuan(result.price),
                weight_g=result.weight_g,
            )
        case Member():
            shown = result.member_id if reveal_private else mask_member_id(result.member_id)
            out["member_id"] = shown
            text = text.replace(result.member_id, shown)
        case Coupon():
            out["code"] = result.code
        case StaffBadge():
            out.update(staff_id=result.staff_id, has_pin=result.pin is not None)
            if result.pin is not None:
                text = text.replace(":" + result.pin, ":****")
        case ReceiptToken():
            out["token"] = result.token
        case Unknown():
            out["reason"] = result.reason
            text = _PIN_LIKE.sub(":****", text)  # a misread staff badge may still hold a PIN
    out["text"] = text
    return out


def _yuan(amount: Money | None) -> str | None:
    return None if amount is None else str(amount)
