"""Tests for kiosk.barcodes: GS1 numbers, every scan kind, and every class of bad input."""

from __future__ import annotations

import dataclasses
import json

import pytest
from biip.checksums import gs1_price_weight_check_digit
from biip.upc import Upc
from hypothesis import given
from hypothesis import strategies as st

from kiosk import barcodes
from kiosk.barcodes import (
    GS,
    Coupon,
    Member,
    Product,
    ReceiptToken,
    ScanKind,
    StaffBadge,
    Unknown,
    VariableMeasure,
    check_digit,
    describe,
    expand_upce,
    is_valid_gtin,
    layout_error,
    mask_member_id,
    parse_scan,
    price_weight_check_digit,
    to_gtin14,
)
from kiosk.config import BarcodesSection, VariableMeasureLayout
from kiosk.money import Money

ASCII_DIGITS = "0123456789"
digit_strings = st.text(alphabet=ASCII_DIGITS, min_size=1, max_size=20)


def gtin_from(body: str) -> str:
    return body + check_digit(body)


def layouts(*layout: VariableMeasureLayout) -> BarcodesSection:
    return BarcodesSection(variable_measure=list(layout))


# --- GS1 check digits -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("590123412345", "7"),  # GS1 General Specifications example
        ("950110153100", "0"),  # GS1 General Specifications example
        ("9501234", "6"),  # GTIN-8
        ("03600029145", "2"),  # UPC-A 036000291452
        ("1950110153000", "0"),  # GTIN-14
    ],
)
def test_check_digit_published_examples(body: str, check: str) -> None:
    assert check_digit(body) == check


@pytest.mark.parametrize(
    "gtin", ["4006381333931", "6901234567892", "96385074", "036000291452", "10614141000415"]
)
def test_published_gtins_are_valid(gtin: str) -> None:
    assert is_valid_gtin(gtin)


@pytest.mark.parametrize("body", ["", "12a4", " 123", "١٢٣", "12.3"])
def test_check_digit_rejects_non_digits(body: str) -> None:
    with pytest.raises(ValueError):
        check_digit(body)


@pytest.mark.parametrize(
    "text",
    [
        "6901234567893",  # bad check
        "690123456789",  # 12 digits, bad check
        "123456789",  # 9 digits
        "12345678901",  # 11 digits
        "690123456789X",  # letter
        "٦٩٠١٢٣٤٥٦٧٨٩٢",  # Arabic-Indic digits: int() takes them, a GTIN does not
        "",
        " 6901234567892",
    ],
)
def test_is_valid_gtin_rejects(text: str) -> None:
    assert not is_valid_gtin(text)
    assert to_gtin14(text) is None


def test_is_valid_gtin_rejects_non_text() -> None:
    assert not is_valid_gtin(6901234567892)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("gtin", "gtin14"),
    [
        ("96385074", "00000096385074"),
        ("036000291452", "00036000291452"),
        ("6901234567892", "06901234567892"),
        ("10614141000415", "10614141000415"),
    ],
)
def test_to_gtin14_pads(gtin: str, gtin14: str) -> None:
    assert to_gtin14(gtin) == gtin14


@given(
    st.sampled_from([7, 11, 12, 13]).flatmap(
        lambda n: st.text(ASCII_DIGITS, min_size=n, max_size=n)
    )
)
def test_body_plus_its_check_digit_is_valid(body: str) -> None:
    assert is_valid_gtin(gtin_from(body))


@given(digit_strings)
def test_check_digit_is_one_ascii_digit(body: str) -> None:
    digit = check_digit(body)
    assert len(digit) == 1 and digit in ASCII_DIGITS


@given(
    st.sampled_from([7, 11, 12, 13]).flatmap(
        lambda n: st.text(ASCII_DIGITS, min_size=n, max_size=n)
    ),
    st.data(),
)
def test_any_single_digit_change_invalidates(body: str, data: st.DataObject) -> None:
    gtin = gtin_from(body)
    position = data.draw(st.integers(0, len(gtin) - 1))
    new = data.draw(st.sampled_from([d for d in ASCII_DIGITS if d != gtin[position]]))
    assert not is_valid_gtin(gtin[:position] + new + gtin[position + 1 :])


@given(
    st.one_of(
        st.text(max_size=20),
        st.sampled_from([7, 11, 12, 13]).flatmap(
            lambda n: st.text(ASCII_DIGITS, min_size=n, max_size=n).map(gtin_from)
        ),
    )
)
def test_to_gtin14_is_idempotent(text: str) -> None:
    once = to_gtin14(text)
    if once is not None:
        assert len(once) == 14
        assert to_gtin14(once) == once


# --- UPC-E ------------------------------------------------------------------------------------


@pytest.mark.parametrize("upce", ["04252614", "0425261", "425261"])
def test_expand_upce_published_example(upce: str) -> None:
    assert expand_upce(upce) == "042100005264"


@pytest.mark.parametrize(
    "upce",
    ["04252615", "24252614", "4252614x", "0425", "042526145", "", "٠٤٢٥٢٦١٤"],
)
def test_expand_upce_rejects(upce: str) -> None:
    assert expand_upce(upce) is None


@given(st.sampled_from("01"), st.text(ASCII_DIGITS, min_size=6, max_size=6))
def test_expand_upce_agrees_with_biip(system: str, core: str) -> None:
    ours = expand_upce(system + core)
    assert ours == Upc.parse(system + core).as_upc_a()
    assert ours is not None and is_valid_gtin(ours)
    assert expand_upce(system + core + ours[-1]) == ours


# --- embedded price/weight check digit --------------------------------------------------------


@pytest.mark.parametrize(("value", "check"), [("2875", "9"), ("14685", "6"), ("1234", "9")])
def test_price_weight_check_digit_examples(value: str, check: str) -> None:
    assert price_weight_check_digit(value) == check


@given(st.sampled_from([4, 5]).flatmap(lambda n: st.text(ASCII_DIGITS, min_size=n, max_size=n)))
def test_price_weight_check_digit_agrees_with_biip(value: str) -> None:
    assert price_weight_check_digit(value) == str(gs1_price_weight_check_digit(value))


@pytest.mark.parametrize("value", ["123", "123456", "12a4", ""])
def test_price_weight_check_digit_rejects(value: str) -> None:
    with pytest.raises(ValueError):
        price_weight_check_digit(value)


# --- products -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "gtin"),
    [
        ("6901234567892", "06901234567892"),  # EAN-13
        ("4006381333931", "04006381333931"),
        ("042100005264", "00042100005264"),  # UPC-A
        ("0042100005264", "00042100005264"),  # zbar's UPC-A: 13 digits with a leading 0
        ("04252614", "00042100005264"),  # UPC-E: not a valid EAN-8, so expanded
        ("96385074", "00000096385074"),  # EAN-8
        ("10614141000415", "10614141000415"),  # ITF-14
        ("19501101530000", "19501101530000"),
    ],
)
def test_product_numbers(text: str, gtin: str) -> None:
    assert parse_scan(text) == Product(gtin, text=text)


def test_upc_a_forms_give_one_gtin() -> None:
    forms = ["042100005264", "0042100005264", "04252614", "]E00042100005264"]
    assert {parse_scan(f).gtin for f in forms} == {"00042100005264"}  # type: ignore[union-attr]


AMBIGUOUS_8 = "12345601"  # valid EAN-8, and also a valid UPC-E for 123000004561


@pytest.mark.parametrize(
    ("text", "symbology", "gtin"),
    [
        (AMBIGUOUS_8, None, "00000012345601"),  # without a hint, EAN-8 wins
        (AMBIGUOUS_8, "EAN8", "00000012345601"),
        (AMBIGUOUS_8, "UPCE", "00123000004561"),  # pyzbar / zxing-cpp format names
        (AMBIGUOUS_8, "UPC-E", "00123000004561"),
        (AMBIGUOUS_8, "]E0", "00123000004561"),  # AIM id given as the symbology
        ("]E0" + AMBIGUOUS_8, None, "00123000004561"),  # ]E0 is EAN/UPC, never EAN-8
        ("]E4" + AMBIGUOUS_8, "UPCE", "00000012345601"),  # the AIM id in the text wins
        ("425261", "upce", "00042100005264"),
        ("0425261", "upce", "00042100005264"),
        ("0042100005264", "UPCE", "00042100005264"),  # zbar sends UPC-E already expanded
    ],
)
def test_eight_digit_rule(text: str, symbology: str | None, gtin: str) -> None:
    result = parse_scan(text, symbology=symbology)
    assert isinstance(result, Product)
    assert result.gtin == gtin


@pytest.mark.parametrize(
    ("text", "symbology"),
    [
        ("]E404252614", None),  # a valid UPC-E, but the scanner says EAN-8
        ("04252614", "EAN-8"),
        ("04252615", None),  # neither EAN-8 nor UPC-E
        ("04252615", "upce"),
        ("425261", None),  # 6 digits are UPC-E only when the decoder says so
        ("0425261", None),
    ],
)
def test_eight_digit_rule_rejects(text: str, symbology: str | None) -> None:
    assert isinstance(parse_scan(text, symbology=symbology), Unknown)


@pytest.mark.parametrize(
    "text",
    [
        "]E06901234567892",
        "  6901234567892\r\n",
        "6901234567892\n",
        "]E3690123456789212",  # EAN-13 + 2-digit add-on
        "]E3690123456789212345",  # EAN-13 + 5-digit add-on
        "]Q16901234567892",  # digits in a plain QR are still a product number
    ],
)
def test_product_through_aim_and_whitespace(text: str) -> None:
    assert parse_scan(text) == Product("06901234567892", text=text)


# --- GS1 element strings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "(01)09501101530003",  # DataBar as zxing-cpp writes it
        "]C10109501101530003",  # GS1-128 with AIM id
        "]e00109501101530003",  # DataBar with AIM id
        "0109501101530003",  # GS1-128 without AIM id
        "]e009501101530003",  # scanner set to send DataBar as a bare GTIN-14
        "]d20109501101530003" + GS + "10ABC123",  # GS1 DataMatrix with a batch
        "(01)09501101530003(17)000000",  # all-zero dates are not our business
        "]C1" + GS + "0109501101530003",  # FNC1 sent as a leading GS
        "0109501101530003" + GS + "\r\n",
        "https://id.gs1.org/01/09501101530003",  # GS1 Digital Link in a QR
        "HTTPS://ID.GS1.ORG/01/09501101530003",  # QR alphanumeric mode upper-cases URLs
        "]Q3https://id.gs1.org/01/09501101530003",
    ],
)
def test_gs1_product(text: str) -> None:
    assert parse_scan(text) == Product("09501101530003", text=text)


@pytest.mark.parametrize(
    "symbology",
    # zxing-cpp, pyzbar and kiosk.peripherals.camera names
    ["DataBar", "DataBarExpanded", "DATABAR_EXP", "GS1-128", "gs1-qr", "databar-exp"],
)
def test_gs1_decoder_format_names(symbology: str) -> None:
    for text in ("0109501101530003", "09501101530003", "(01)09501101530003"):
        assert parse_scan(text, symbology=symbology) == Product("09501101530003", text=text)


@pytest.mark.parametrize(
    ("text", "weight_g", "fen"),
    [
        ("0109501101530003" + GS + "3103000512", 512, None),
        ("0109501101530003" + "3103000512" + GS + "3922001234", 512, 1234),
        ("]C10109501101530003" + GS + "3922001234", None, 1234),
        ("(01)09501101530003(3103)000512(3922)001234", 512, 1234),
        ("(01)09501101530003(3102)001234", 12340, None),  # 12.34 kg
        ("(01)09501101530003(3105)000512", 5, None),  # 5.12 g rounds to 5
        ("(01)09501101530003(3105)000150", 2, None),  # 1.5 g rounds half up
        ("(01)09501101530003(3932)156001234", None, 1234),  # amount payable in CNY
        ("(01)09501101530003(3920)12", None, 1200),
        ("https://id.gs1.org/01/09501101530003?3103=000512", 512, None),
    ],
)
def test_gs1_weight_and_price(text: str, weight_g: int | None, fen: int | None) -> None:
    result = parse_scan(text)
    assert isinstance(result, Product)
    assert result.gtin == "09501101530003"
    assert result.weight_g == weight_g
    assert result.price == (None if fen is None else Money(fen))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("(01)09501101530004", "check digit"),
        ("0109501101530004", "check digit"),
        ("(00)106141411234567897", "AI 01"),  # an SSCC: a pallet, not a product
        ("(01)0950110153", "GS1"),
        ("(01)09501101530003(3923)001235", "fractions of a fen"),
        ("(01)09501101530003(3932)978001234", "currency 978"),
        ("]C1M13800138000", "GS1"),
        ("6901234" + GS + "567892", "GS1"),
        ("(", "GS1"),
        ("()", "GS1"),
        ("(99)", "GS1"),
        ("https://example.com/pay?x=1", "web address"),
        ("https://id.gs1.org/01/09501101530004", "check digit"),
        ("010950110153000312345", "GS1"),  # 21 digits that are no element string
    ],
)
def test_gs1_rejects(text: str, reason: str) -> None:
    result = parse_scan(text)
    assert isinstance(result, Unknown)
    assert reason in result.reason


# --- variable measure -----------------------------------------------------------------------------

PRICE_LABEL = gtin_from("2" + "1" + "12345" + "01234")  # 2112345012346


def test_default_layout_price_label() -> None:
    assert PRICE_LABEL == "2112345012346"
    result = parse_scan(PRICE_LABEL)
    assert result == VariableMeasure(
        lookup_gtin="02112345000008",
        plu="12345",
        price=Money(1234),
        weight_g=None,
        text=PRICE_LABEL,
    )


@given(
    st.sampled_from("0123456789"),
    st.text(ASCII_DIGITS, min_size=5, max_size=5),
    st.integers(0, 99999),
)
def test_default_layout_round_trip(flag: str, plu: str, fen: int) -> None:
    code = gtin_from("2" + flag + plu + f"{fen:05d}")
    result = parse_scan(code)
    assert isinstance(result, VariableMeasure)
    assert (result.plu, result.price, result.weight_g) == (plu, Money(fen), None)
    assert result.lookup_gtin == gtin_from("2" + flag + plu + "00000").zfill(14)


def test_price_label_with_bad_outer_check_is_rejected() -> None:
    result = parse_scan(PRICE_LABEL[:-1] + "7")
    assert isinstance(result, Unknown) and "check digit" in result.reason


def test_weight_layout_gives_grams() -> None:
    settings = layouts(VariableMeasureLayout(prefixes=["28"], value="weight", decimals=3))
    code = gtin_from("28" + "04011" + "00512")
    result = parse_scan(code, settings)
    assert result == VariableMeasure(
        lookup_gtin=gtin_from("28" + "04011" + "00000").zfill(14),
        plu="04011",
        price=None,
        weight_g=512,
        text=code,
    )


@pytest.mark.parametrize(
    ("value", "decimals", "weight_g", "fen"),
    [
        ("weight", 3, 510, None),
        ("weight", 2, 5100, None),
        ("weight", 1, 51000, None),
        ("weight", 0, 510000, None),
        ("price", 0, None, 51000),
        ("price", 1, None, 5100),
        ("price", 2, None, 510),
        ("price", 3, None, 51),
    ],
)
def test_layout_decimals(value: str, decimals: int, weight_g: int | None, fen: int | None) -> None:
    settings = layouts(VariableMeasureLayout(value=value, decimals=decimals))
    result = parse_scan(gtin_from("2104011" + "00510"), settings)
    assert isinstance(result, VariableMeasure)
    assert result.weight_g == weight_g
    assert result.price == (None if fen is None else Money(fen))


def test_price_with_fractions_of_a_fen_is_rejected() -> None:
    settings = layouts(VariableMeasureLayout(value="price", decimals=3))
    result = parse_scan(gtin_from("2104011" + "00515"), settings)
    assert isinstance(result, Unknown) and "fen" in result.reason


GERMAN = VariableMeasureLayout(
    prefixes=["22", "23"], pattern="PPIIIICVVVVV", value="price", decimals=2
)
BRITISH = VariableMeasureLayout(prefixes=["20"], pattern="PPIIIIICVVVV", value="price", decimals=2)


def test_five_digit_embedded_check_uses_the_inverse_five_minus_rule() -> None:
    code = gtin_from("22" + "1234" + "6" + "14685")  # 14685 -> 6, not 7
    result = parse_scan(code, layouts(GERMAN))
    assert isinstance(result, VariableMeasure)
    assert (result.plu, result.price) == ("1234", Money(14685))
    assert result.lookup_gtin == "02212340000000"  # biip: without_variable_measure() for region de


def test_five_digit_embedded_check_rejects_the_common_mistake() -> None:
    code = gtin_from("22" + "1234" + "7" + "14685")  # outer check valid, embedded check wrong
    result = parse_scan(code, layouts(GERMAN))
    assert isinstance(result, Unknown) and "price/weight check digit" in result.reason


def test_four_digit_embedded_check() -> None:
    result = parse_scan(gtin_from("20" + "12345" + "9" + "2875"), layouts(BRITISH))
    assert isinstance(result, VariableMeasure)
    assert (result.plu, result.price) == ("12345", Money(2875))
    bad = parse_scan(gtin_from("20" + "12345" + "8" + "2875"), layouts(BRITISH))
    assert isinstance(bad, Unknown)


def test_gs1_uk_example_matches_biip() -> None:
    result = parse_scan("2011122912346", layouts(BRITISH))
    assert isinstance(result, VariableMeasure)
    assert (result.plu, result.price) == ("11122", Money(1234))
    assert result.lookup_gtin == "02011122000005"  # biip region gb, without_variable_measure()


def test_ignored_digits_are_zeroed_in_the_lookup_gtin() -> None:
    settings = layouts(VariableMeasureLayout(prefixes=["21"], pattern="PPXIIIIVVVVV"))
    a = parse_scan(gtin_from("21" + "1" + "4011" + "00350"), settings)
    b = parse_scan(gtin_from("21" + "7" + "4011" + "00990"), settings)
    assert isinstance(a, VariableMeasure) and isinstance(b, VariableMeasure)
    assert a.lookup_gtin == b.lookup_gtin == gtin_from("21" + "0" + "4011" + "00000").zfill(14)


def test_first_matching_layout_wins() -> None:
    settings = layouts(
        VariableMeasureLayout(prefixes=["28"], value="weight", decimals=3),
        VariableMeasureLayout(prefixes=["20", "28"], value="price", decimals=2),
    )
    weighed = parse_scan(gtin_from("28" + "04011" + "00512"), settings)
    priced = parse_scan(gtin_from("20" + "04011" + "00512"), settings)
    assert isinstance(weighed, VariableMeasure) and weighed.weight_g == 512
    assert isinstance(priced, VariableMeasure) and priced.price == Money(512)


def test_upc_a_number_system_2_label_with_layout_prefix_02() -> None:
    settings = layouts(VariableMeasureLayout(prefixes=["02"], pattern="PPIIIIICVVVV"))
    body = "02" + "12345" + price_weight_check_digit("0199") + "0199"
    upca = gtin_from(body[1:])  # 12-digit UPC-A: 2 12345 C 0199 check
    result = parse_scan(upca, settings)
    assert isinstance(result, VariableMeasure)
    assert (result.plu, result.price) == ("12345", Money(199))


def test_restricted_code_without_a_layout_is_a_product() -> None:
    assert parse_scan(PRICE_LABEL, layouts()) == Product("0" + PRICE_LABEL, text=PRICE_LABEL)
    only_28 = layouts(VariableMeasureLayout(prefixes=["28"]))
    assert isinstance(parse_scan(PRICE_LABEL, only_28), Product)


def test_ordinary_products_never_match_the_default_layout() -> None:
    assert isinstance(parse_scan("6901234567892"), Product)
    assert isinstance(parse_scan("(01)02112345012346"), Product)  # GS1 AI 01 is never a label


@pytest.mark.parametrize(
    ("layout", "problem"),
    [
        (VariableMeasureLayout(pattern="PPIIIIIVVVV"), "12 letters"),
        (VariableMeasureLayout(pattern="PPIIIIIVVVVZ"), "may only use"),
        (VariableMeasureLayout(pattern="PPIIIIIIIIII"), "no V"),
        (VariableMeasureLayout(pattern="PPIIIICCVVVV"), "at most one C"),
        (VariableMeasureLayout(pattern="PPIIICVVVVVV"), "4 or 5 V"),
        (VariableMeasureLayout(prefixes=[]), "no prefixes"),
        (VariableMeasureLayout(prefixes=["6"]), "restricted-circulation"),
        (VariableMeasureLayout(prefixes=["0"]), "restricted-circulation"),
        (VariableMeasureLayout(prefixes=["2x"]), "restricted-circulation"),
        (VariableMeasureLayout(value="count"), "price or weight"),
        (VariableMeasureLayout(decimals=4), "decimals"),
    ],
)
def test_layout_error(layout: VariableMeasureLayout, problem: str) -> None:
    found = layout_error(layout)
    assert found is not None and problem in found


def test_usable_layouts_have_no_error() -> None:
    for layout in (VariableMeasureLayout(), GERMAN, BRITISH):
        assert layout_error(layout) is None


def test_unusable_layout_makes_the_scan_unknown_not_a_crash() -> None:
    bad = VariableMeasureLayout(prefixes=["21"], pattern="PPIIICVVVVVV")
    result = parse_scan(PRICE_LABEL, layouts(bad))
    assert isinstance(result, Unknown) and "layout" in result.reason


# --- member, coupon, staff, receipt -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("M13800138000", Member("13800138000", text="M13800138000")),
        ("]Q1M13800138000", Member("13800138000", text="]Q1M13800138000")),
        ("MAB12cd", Member("AB12cd", text="MAB12cd")),
        ("C-FULL100-10", Coupon("C-FULL100-10", text="C-FULL100-10")),
        ("C-X", Coupon("C-X", text="C-X")),
        ("S0001:2468", StaffBadge("S0001", "2468", text="S0001:2468")),
        ("S0001", StaffBadge("S0001", None, text="S0001")),
        (
            "S0123456789:12345678",
            StaffBadge("S0123456789", "12345678", text="S0123456789:12345678"),
        ),
        ("KR1:AbC_12-xyz", ReceiptToken("AbC_12-xyz", text="KR1:AbC_12-xyz")),
        ("KR1:" + "a" * 64, ReceiptToken("a" * 64, text="KR1:" + "a" * 64)),
    ],
)
def test_prefixed_payloads(text: str, expected: object) -> None:
    assert parse_scan(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("M12345", "member code"),  # 5 characters
        ("M" + "1" * 21, "member code"),
        ("M1380013800!", "member code"),
        ("C-full100", "coupon code"),  # lower case
        ("C-", "coupon code"),
        ("C-" + "A" * 41, "coupon code"),
        ("S001", "staff badge"),  # 3 digits
        ("S00000000001", "staff badge"),  # 11 digits
        ("S0001:246", "staff badge"),  # PIN too short
        ("S0001:123456789", "staff badge"),
        ("S0001:", "staff badge"),
        ("SABCD", "staff badge"),
        ("KR1:short", "receipt code"),
        ("KR1:" + "a" * 65, "receipt code"),
        ("KR1:abc def ghi", "receipt code"),
        ("hello", "not a product"),
        ("690123456789X", "not a product"),  # a letter in a GTIN
    ],
)
def test_prefixed_payloads_reject(text: str, reason: str) -> None:
    result = parse_scan(text)
    assert isinstance(result, Unknown)
    assert reason in result.reason


def test_configured_prefixes_longest_first() -> None:
    settings = BarcodesSection(
        member_prefix="C", coupon_prefix="C-", staff_prefix="STAFF", receipt_prefix="R:"
    )
    assert parse_scan("C-FULL100", settings) == Coupon("C-FULL100", text="C-FULL100")
    assert parse_scan("CAB123456", settings) == Member("AB123456", text="CAB123456")
    assert parse_scan("STAFF1234", settings) == StaffBadge("STAFF1234", None, text="STAFF1234")
    assert parse_scan("R:abcdefgh", settings) == ReceiptToken("abcdefgh", text="R:abcdefgh")
    assert isinstance(parse_scan("S0001:2468", settings), Unknown)


def test_falls_through_to_a_shorter_prefix_when_the_longer_does_not_fit() -> None:
    settings = BarcodesSection(member_prefix="C", coupon_prefix="C-")
    assert parse_scan("Cabc123", settings) == Member("abc123", text="Cabc123")
    settings = BarcodesSection(member_prefix="M", receipt_prefix="MR")
    assert parse_scan("MR1234567", settings) == Member("R1234567", text="MR1234567")
    complaint = parse_scan("C-abcdef", BarcodesSection(member_prefix="C", coupon_prefix="C-"))
    assert isinstance(complaint, Unknown) and "coupon code" in complaint.reason


def test_empty_prefix_never_matches_everything() -> None:
    settings = BarcodesSection(member_prefix="")
    assert isinstance(parse_scan("ABCDEFGH", settings), Unknown)


@pytest.mark.parametrize("digits", ["00012468", "20012468", "2112345012346", "0001246800012"])
def test_all_digit_text_is_never_a_staff_badge(digits: str) -> None:
    for settings in (
        BarcodesSection(),
        BarcodesSection(staff_prefix="2"),
        BarcodesSection(staff_prefix="0"),
    ):
        assert not isinstance(parse_scan(digits, settings), StaffBadge)


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \r\n", "empty"),
        ("]E0", "empty"),
        ("6901234\x00567892", "control"),
        ("\x07M13800138000", "control"),
        ("M1380013\x1b8000", "control"),
        ("6901234567893", "check digit"),
        ("042100005265", "check digit"),
        ("10614141000416", "check digit"),
        ("96385075", "check digit"),
        ("123456789", "wrong length"),
        ("12345678901", "wrong length"),
        ("1", "wrong length"),
        ("٦٩٠١٢٣٤٥٦٧٨٩٢", "not a product"),  # Arabic-Indic digits
        ("６９０１２３４５６７８９２", "not a product"),  # full-width digits
        ("\xff\xfe\x80\x81junk", "control"),
    ],
)
def test_bad_input(text: str, reason: str) -> None:
    result = parse_scan(text)
    assert isinstance(result, Unknown)
    assert reason in result.reason
    assert result.text == text


def test_too_long_says_so() -> None:
    result = parse_scan("6" * 513)
    assert isinstance(result, Unknown) and "too long" in result.reason
    at_limit = parse_scan("6" * 512)
    assert isinstance(at_limit, Unknown) and "too long" not in at_limit.reason


def test_non_text_is_unknown() -> None:
    assert isinstance(parse_scan(None), Unknown)  # type: ignore[arg-type]
    assert isinstance(parse_scan(b"6901234567892"), Unknown)  # type: ignore[arg-type]


def test_a_parser_bug_costs_one_scan_not_the_lane(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(barcodes, "_parse_prefixed", broken)
    result = parse_scan("M13800138000")
    assert isinstance(result, Unknown) and "internal error" in result.reason


def _check_never_raises(text: str) -> None:
    result = parse_scan(text)
    assert result.text == text
    assert isinstance(result.kind, ScanKind)
    if isinstance(result, Unknown):
        assert "internal error" not in result.reason
    json.dumps(describe(result))


@given(st.text(max_size=600))
def test_parse_scan_never_raises_on_text(text: str) -> None:
    _check_never_raises(text)


@given(st.binary(max_size=600).map(lambda b: b.decode("latin-1")))
def test_parse_scan_never_raises_on_binary_junk(text: str) -> None:
    _check_never_raises(text)


gs1ish = st.lists(
    st.sampled_from(
        [
            "]C1",
            "]e0",
            "]E0",
            "]Q3",
            "(",
            ")",
            "01",
            "10",
            "17",
            "310",
            "3922",
            "393",
            GS,
            "0",
            "9",
            "M",
            "S",
            "C-",
            "KR1:",
            ":",
            "https://id.gs1.org/01/",
        ]
    ),
    max_size=30,
).map("".join)


@given(gs1ish, st.sampled_from([None, "UPCE", "EAN8", "DataBar", "]C1", "]E0", "", "weird"]))
def test_parse_scan_never_raises_on_near_misses(text: str, symbology: str | None) -> None:
    result = parse_scan(text, symbology=symbology)
    assert result.text == text
    if isinstance(result, Unknown):
        assert "internal error" not in result.reason


# --- values and describe -----------------------------------------------------------------------------


def test_results_are_frozen_and_know_their_kind() -> None:
    result = parse_scan("6901234567892")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.gtin = "0"  # type: ignore[misc, union-attr]
    kinds = {
        "6901234567892": ScanKind.PRODUCT,
        PRICE_LABEL: ScanKind.VARIABLE_MEASURE,
        "M13800138000": ScanKind.MEMBER,
        "C-FULL100-10": ScanKind.COUPON,
        "S0001:2468": ScanKind.STAFF_BADGE,
        "KR1:abcdefgh": ScanKind.RECEIPT_TOKEN,
        "nonsense": ScanKind.UNKNOWN,
    }
    for text, kind in kinds.items():
        assert parse_scan(text).kind is kind
        assert describe(parse_scan(text))["kind"] == kind.value


def test_describe_product_and_label() -> None:
    assert describe(parse_scan("(01)09501101530003(3103)000512(3922)001234")) == {
        "kind": "product",
        "gtin": "09501101530003",
        "weight_g": 512,
        "price": "12.34",
        "text": "(01)09501101530003(3103)000512(3922)001234",
    }
    assert describe(parse_scan(PRICE_LABEL)) == {
        "kind": "variable_measure",
        "lookup_gtin": "02112345000008",
        "plu": "12345",
        "price": "12.34",
        "weight_g": None,
        "text": PRICE_LABEL,
    }


def test_describe_keeps_phone_numbers_and_pins_out() -> None:
    member = describe(parse_scan("M13800138000"))
    assert member == {"kind": "member", "member_id": "138****8000", "text": "M138****8000"}
    revealed = describe(parse_scan("M13800138000"), reveal_private=True)
    assert revealed["member_id"] == "13800138000"
    staff = describe(parse_scan("S0001:2468"), reveal_private=True)
    assert staff == {
        "kind": "staff_badge",
        "staff_id": "S0001",
        "has_pin": True,
        "text": "S0001:****",
    }
    misread = describe(parse_scan("S0001:24681357924"))
    assert "24681357924" not in json.dumps(misread)


def test_repr_keeps_phone_numbers_and_pins_out() -> None:
    assert "13800138000" not in repr(parse_scan("M13800138000"))
    assert "2468" not in repr(parse_scan("S0001:2468"))


@pytest.mark.parametrize(
    ("member_id", "masked"), [("13800138000", "138****8000"), ("AB1234", "****34")]
)
def test_mask_member_id(member_id: str, masked: str) -> None:
    assert mask_member_id(member_id) == masked


def test_describe_coupon_receipt_unknown() -> None:
    assert describe(parse_scan("C-FULL100-10"))["code"] == "C-FULL100-10"
    assert describe(parse_scan("KR1:abcdefgh"))["token"] == "abcdefgh"
    long = describe(parse_scan("x" * 5000))
    assert long["kind"] == "unknown" and "too long" in long["reason"]
    assert len(long["text"]) == 512
