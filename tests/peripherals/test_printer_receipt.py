"""Receipt layout and its ESC/POS bytes (Chinese + English sale)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kiosk.config import Config
from kiosk.money import Money
from kiosk.peripherals.printer.escpos_out import FS_CHINESE_OFF, FS_CHINESE_ON, encode, encode_text
from kiosk.peripherals.printer.receipt import (
    Align,
    Cut,
    Feed,
    Line,
    QrCode,
    Receipt,
    ReceiptSettings,
    layout_sale,
    layout_test_page,
    local_time,
    mask,
)
from kiosk.peripherals.printer.text import display_width
from kiosk.sale import LineKind, Payment, Sale, SaleLine

ESC_INIT = b"\x1b@"
PARTIAL_CUT = b"\x1bd\x06\x1dV\x01"  # feed 6 lines, GS V 1


def make_sale(sale_id: str = "S-20240501-0001", token: str = "tok123ABC") -> Sale:
    """Three items (one weighed, one long bilingual name), a coupon, two tax rates, Alipay."""
    lines = (
        SaleLine(1, LineKind.ITEM, "06901234567892", None, "可口可乐", "Coca-Cola 330ml", 3, None,
                 Money(350), Money(1050), Decimal("0.13")),
        SaleLine(2, LineKind.ITEM, None, "4011", "香蕉", "Banana", 1, 512, Money(698), Money(357),
                 Decimal("0.09")),
        SaleLine(3, LineKind.ITEM, "06900000000001", None, "农夫山泉天然饮用水550毫升特惠装",
                 "Nongfu Spring natural water 550ml value pack", 1, None, Money(200), Money(200),
                 Decimal("0.13")),
        SaleLine(4, LineKind.DISCOUNT, None, None, "满10减1", "Coupon 1 off 10", 1, None, Money(-100),
                 Money(-100), Decimal("0.13"), code="C-FULL10-1"),
    )
    return Sale(sale_id, "kiosk-001", "Demo Store 演示店", 1,
                datetime(2024, 5, 1, 6, 0, tzinfo=UTC), datetime(2024, 5, 1, 6, 3, 22, tzinfo=UTC),
                lines, (Payment("alipay", Money(1507), "paid", "2024050122001476001234567890"),),
                token, member_id="M13800138000")


SETTINGS = ReceiptSettings(store="Demo Store 演示店", kiosk_id="kiosk-001", lane=1)


def text_lines(receipt: Receipt) -> list[str]:
    return [op.text for op in receipt.ops if isinstance(op, Line)]


def test_layout_reads_as_a_receipt() -> None:
    sale = make_sale()
    text = layout_sale(sale, ReceiptSettings(store="Demo Store 演示店", kiosk_id="kiosk-001", yuan="¥")).text()
    assert "Demo Store 演示店" in text
    assert "可口可乐 Coca-Cola 330ml" in text
    assert "  3 x ¥3.50" in text
    assert "  0.512 kg x ¥6.98/kg" in text
    assert "满10减1 Coupon 1 off 10" in text and "-1.00" in text
    assert "合计 Total" in text and "¥15.07" in text
    assert "支付宝 Alipay" in text
    assert "M138****8000" in text and "13800138000" not in text
    assert "S-20240501-0001" in text
    assert "2024-05-01 14:03:22" in text  # 06:03:22 UTC in Asia/Shanghai
    assert "kiosk-001" in text
    assert "[QR KR1:tok123ABC]" in text


def test_tax_per_rate() -> None:
    sale = make_sale()
    rows = text_lines(layout_sale(sale, SETTINGS))
    assert set(sale.tax) == {Decimal("0.09"), Decimal("0.13")}
    for rate, label in ((Decimal("0.09"), "含税 9% Tax incl."), (Decimal("0.13"), "含税 13% Tax incl.")):
        row = next(r for r in rows if label in r)
        assert row.rstrip().endswith(str(sale.tax[rate]))


@pytest.mark.parametrize("width", [32, 42, 48])
def test_amounts_flush_right_at_every_width(width: int) -> None:
    settings = ReceiptSettings(store="Demo Store 演示店", kiosk_id="kiosk-001", width=width)
    receipt = layout_sale(make_sale(), settings)
    for op in receipt.ops:
        if isinstance(op, Line):
            assert display_width(op.text) <= width, op.text
    rows = text_lines(receipt)
    for amount in ("10.50", "3.57", "2.00", "-1.00", "￥15.07", "15.07"):
        row = next(r for r in rows if r.rstrip().endswith(amount))
        assert display_width(row) == width, row


def test_weighed_line_has_weight_and_price_per_kg_then_amount() -> None:
    rows = text_lines(layout_sale(make_sale(), SETTINGS))
    i = rows.index(next(r for r in rows if r.startswith("香蕉 Banana")))
    assert rows[i + 1].startswith("  0.512 kg x ￥6.98/kg") and rows[i + 1].endswith("3.57")


def test_reprint_is_marked() -> None:
    assert "重印 REPRINT" in layout_sale(make_sale(), SETTINGS, reprint=True).text()
    assert "REPRINT" not in layout_sale(make_sale(), SETTINGS).text()


def test_qr_carries_the_kiosk_receipt_prefix_and_token() -> None:
    cfg = Config()
    qr = [op for op in layout_sale(make_sale(), ReceiptSettings.from_config(cfg)).ops if isinstance(op, QrCode)]
    assert [q.payload for q in qr] == [cfg.barcodes.receipt_prefix + "tok123ABC"] == ["KR1:tok123ABC"]


def test_settings_from_config() -> None:
    s = ReceiptSettings.from_config(Config())
    assert (s.width, s.timezone, s.kiosk_id, s.qr_prefix) == (48, "Asia/Shanghai", "kiosk-001", "KR1:")


def test_local_time() -> None:
    moment = datetime(2024, 12, 31, 20, 0, tzinfo=UTC)
    assert local_time(moment, "Asia/Shanghai") == "2025-01-01 04:00:00"
    assert local_time(moment.replace(tzinfo=None), "Asia/Shanghai") == "2025-01-01 04:00:00"  # naive = UTC
    assert local_time(moment, "Europe/Berlin") == "2024-12-31 21:00:00"
    assert local_time(moment, "Not/AZone") == "2024-12-31 20:00:00 UTC"


def test_mask() -> None:
    assert mask("M13800138000") == "M138****8000"
    assert mask("M123") == "M***"


def test_hostile_names_cannot_inject_commands() -> None:
    sale = make_sale()
    evil = SaleLine(9, LineKind.ITEM, None, "1", "坏\x1b@\x1dV\x00", "Bad\x1bd\x09", 1, None, Money(1), Money(1),
                    Decimal("0.13"))
    data = encode(layout_sale(replace(sale, lines=(evil,)), SETTINGS))
    assert data.count(b"\x1b@") == 1  # only our own initialise
    assert data.count(b"\x1dV") == 1  # only our own cut


# --- bytes -------------------------------------------------------------------------------------

def test_exact_bytes_of_a_small_receipt() -> None:
    receipt = Receipt((
        Line("苹果 Apple"),
        Line("Total 3.57", bold=True, tall=True),
        QrCode("KR1:x"),
        Feed(1),
        Line("Bye", Align.CENTER),
        Cut(),
    ), 32)
    expected = (
        ESC_INIT
        + FS_CHINESE_ON + b"\xc6\xbb\xb9\xfb Apple" + FS_CHINESE_OFF + b"\n"
        + b"\x1b!\x00\x1b!\x00\x1b!\x10" + b"\x1bE\x01" + b"Total 3.57\n"
        + b"\x1b!\x00\x1b!\x00\x1b!\x00" + b"\x1bE\x00" + b"\x1ba\x01"
        + b"\x1d(k\x04\x001A2\x00"  # model 2
        + b"\x1d(k\x03\x001C\x06"  # 6 dots per module
        + b"\x1d(k\x03\x001E1"  # error correction M
        + b"\x1d(k\x08\x001P0KR1:x"  # store the data
        + b"\x1d(k\x03\x001Q0" + b"\n"  # print it
        + b"\n"
        + b"Bye\n"
        + b"\x1ba\x00" + PARTIAL_CUT
    )
    assert encode(receipt) == expected


def test_chinese_lines_are_gb18030_inside_chinese_mode() -> None:
    assert encode_text("Total 3.57") == b"Total 3.57"
    assert encode_text("可口可乐 Coca-Cola 330ml") == b"\x1c&\xbf\xc9\xbf\xda\xbf\xc9\xc0\xd6 Coca-Cola 330ml\x1c."
    assert encode_text("￥3.50") == b"\x1c&\xa3\xa43.50\x1c."


def test_sale_receipt_bytes() -> None:
    sale = make_sale()
    data = encode(layout_sale(sale, SETTINGS))
    assert data.startswith(ESC_INIT)
    assert data.endswith(PARTIAL_CUT)
    # the Chinese name, as GB18030, inside FS & ... FS .
    name = "可口可乐 Coca-Cola 330ml".encode("gb18030")
    assert FS_CHINESE_ON + name + FS_CHINESE_OFF + b"\n" in data
    assert "农夫山泉".encode("gb18030") in data
    # every FS & is closed by FS . on the same line; no Chinese bytes outside Chinese mode
    for raw_line in data.split(b"\n"):
        assert raw_line.count(FS_CHINESE_ON) == raw_line.count(FS_CHINESE_OFF)
        outside = raw_line.split(FS_CHINESE_ON)[0]
        assert all(b < 0x80 for b in outside), raw_line
    # no four-byte GB18030 "¥" that most printers print as garbage
    assert "¥".encode("gb18030") not in data
    assert "￥15.07".encode("gb18030") in data
    # the native QR code with the receipt token
    payload = b"KR1:tok123ABC"
    store = b"\x1d(k" + bytes([len(payload) + 3, 0]) + b"1P0" + payload
    assert store in data
    assert data.index(store) < data.index(b"\x1d(k\x03\x001Q0") < data.index(PARTIAL_CUT)
    # exactly one receipt: one initialise, one cut
    assert data.count(b"\x1dV") == 1


def test_test_page_bytes() -> None:
    now = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
    receipt = layout_test_page(SETTINGS, now, ["状态 Status: ok"])
    text = receipt.text()
    assert "123456789012345678901234567890123456789012345678" in text
    assert "打印机测试 Printer test" in text and "2024-05-01 14:00:00" in text
    data = encode(receipt)
    assert b"KR1:TEST" in data and data.endswith(PARTIAL_CUT)
