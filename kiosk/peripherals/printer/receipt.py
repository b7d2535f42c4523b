"""Receipt layout: a sale becomes a list of printer operations, laid out in display columns.

Pure: no printer, no I/O. The same ``Receipt`` is encoded to ESC/POS bytes (``escpos_out``) and
drawn to a PNG (``png``), so the preview is what the printer prints. Every text line is at most
``width`` columns as the printer counts them (``text.display_width``); Chinese and English sit
side by side with amounts flush right.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiosk.config import Config
from kiosk.money import Money
from kiosk.peripherals.printer.text import center, columns, printable, wrap
from kiosk.sale import LineKind, Sale, SaleLine


class Align(StrEnum):
    LEFT = "left"
    CENTER = "center"


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    align: Align = Align.LEFT
    bold: bool = False
    tall: bool = False  # double height; the width in columns is unchanged


@dataclass(frozen=True, slots=True)
class QrCode:
    payload: str
    module_dots: int = 6  # printer dots per QR module


@dataclass(frozen=True, slots=True)
class Feed:
    lines: int = 1


@dataclass(frozen=True, slots=True)
class Cut:
    pass


Op = Line | QrCode | Feed | Cut


@dataclass(frozen=True, slots=True)
class Receipt:
    ops: tuple[Op, ...]
    width: int

    def text(self) -> str:
        """Plain-text rendering (logs, tests, a terminal preview); the QR shows as its payload."""
        out = []
        for op in self.ops:
            if isinstance(op, Line):
                out.append(center(op.text, self.width).rstrip() if op.align is Align.CENTER else op.text.rstrip())
            elif isinstance(op, QrCode):
                out.append(center(f"[QR {op.payload}]", self.width).rstrip())
            elif isinstance(op, Feed):
                out.extend([""] * op.lines)
            else:
                out.append("-" * self.width + " (cut)")
        return "\n".join(out) + "\n"


PAYMENT_LABELS = {
    "alipay": "支付宝 Alipay",
    "wechat": "微信支付 WeChat Pay",
    "unionpay": "云闪付 UnionPay",
    "emv": "银联二维码 EMV QR",
    "sim": "模拟支付 Simulated",
}


@dataclass(frozen=True, slots=True)
class ReceiptSettings:
    store: str
    kiosk_id: str
    lane: int | None = None
    timezone: str = "Asia/Shanghai"
    width: int = 48
    qr_prefix: str = "KR1:"
    yuan: str = "￥"  # full width: "¥" is a four-byte GB18030 code most printers cannot print
    footer: tuple[str, ...] = field(default=("谢谢惠顾 Thank you",))

    @classmethod
    def from_config(cls, cfg: Config) -> ReceiptSettings:
        k = cfg.kiosk
        return cls(store=k.store, kiosk_id=k.id, lane=k.lane, timezone=k.timezone,
                   width=cfg.printer.width_chars, qr_prefix=cfg.barcodes.receipt_prefix)


def local_time(moment: datetime, timezone: str) -> str:
    """``moment`` (UTC; naive counts as UTC) as wall-clock time in the store's zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S")
    except (ZoneInfoNotFoundError, ValueError):
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def percent(rate: Decimal) -> str:
    value = (rate * 100).normalize()
    return f"{value:f}%"


def mask(member_id: str) -> str:
    """Member ids are often phone numbers: show only the ends."""
    if len(member_id) <= 6:
        return member_id[:1] + "*" * (len(member_id) - 1)
    return member_id[:4] + "*" * (len(member_id) - 8 if len(member_id) > 8 else 2) + member_id[-4:]


def line_name(line: SaleLine) -> str:
    zh, en = line.name_zh.strip(), line.name_en.strip()
    return printable(zh if not en or en == zh else f"{zh} {en}" if zh else en)


def _kg(weight_g: int) -> str:
    return f"{Decimal(weight_g) / 1000:.3f}"


def _lines(texts: list[str], *, bold: bool = False, tall: bool = False) -> list[Op]:
    return [Line(t, bold=bold, tall=tall) for t in texts]


def _sale_line(line: SaleLine, s: ReceiptSettings) -> list[Op]:
    w, name, amount = s.width, line_name(line), str(line.amount)
    if line.weight_g is not None:
        detail = f"  {_kg(line.weight_g)} kg x {s.yuan}{line.unit_price}/kg"
        return _lines(wrap(name, w, 2) + columns(detail, amount, w, 4))
    if line.qty != 1:
        detail = f"  {line.qty} x {s.yuan}{line.unit_price}"
        return _lines(wrap(name, w, 2) + columns(detail, amount, w, 4))
    return _lines(columns(name, amount, w, 2))


def header(s: ReceiptSettings, title: str | None = None) -> list[Op]:
    ops: list[Op] = [Line(t, Align.CENTER, bold=True, tall=True) for t in wrap(printable(s.store), s.width)]
    lane = f"  {s.lane}号通道 Lane {s.lane}" if s.lane is not None else ""
    ops += [Line(t, Align.CENTER) for t in wrap(printable(f"自助收银 Self-checkout {s.kiosk_id}{lane}"), s.width)]
    if title:
        ops.append(Line(printable(title), Align.CENTER, bold=True))
    return ops


def layout_sale(sale: Sale, s: ReceiptSettings, *, reprint: bool = False) -> Receipt:
    w, rule = s.width, Line("-" * s.width)
    ops: list[Op] = header(s, "重印 REPRINT" if reprint else None)
    ops.append(Line("=" * w))
    items = [ln for ln in sale.lines if ln.kind is LineKind.ITEM]
    discounts = [ln for ln in sale.lines if ln.kind is LineKind.DISCOUNT]
    for line in items:
        ops += _sale_line(line, s)
    ops.append(rule)
    count = sum(ln.qty for ln in items)
    ops += _lines(columns("件数 Items", str(count), w))
    if discounts:
        subtotal = sum((ln.amount for ln in items), Money(0))
        ops += _lines(columns("小计 Subtotal", str(subtotal), w))
        for line in discounts:
            ops += _lines(columns(line_name(line), str(line.amount), w, 2))
    ops += _lines(columns("合计 Total", f"{s.yuan}{sale.total}", w), bold=True, tall=True)
    for rate, tax in sale.tax.items():
        ops += _lines(columns(f"  含税 {percent(rate)} Tax incl.", str(tax), w))
    ops.append(rule)
    for payment in sale.payments:
        label = PAYMENT_LABELS.get(payment.method, payment.method)
        if payment.status != "paid":
            label += f" ({payment.status})"
        ops += _lines(columns(printable(label), str(payment.amount), w, 2))
        if payment.reference:
            ops += _lines(wrap(printable(f"  交易号 Ref {payment.reference}"), w, 4))
    if sale.member_id:
        ops += _lines(columns("会员 Member", printable(mask(sale.member_id)), w))
    ops.append(rule)
    ops += _lines(columns("单号 Sale", printable(sale.sale_id), w, 2))
    ops += _lines(columns("时间 Time", local_time(sale.completed_at, s.timezone), w))
    kiosk = f"{sale.kiosk_id} / {sale.lane}"
    ops += _lines(columns("收银机 Kiosk", printable(kiosk), w, 2))
    ops.append(Feed(1))
    ops.append(QrCode(s.qr_prefix + sale.receipt_token))
    ops.append(Line("扫码查看电子小票及退货", Align.CENTER))
    ops.append(Line("Scan for e-receipt and returns", Align.CENTER))
    ops += [Line(t, Align.CENTER) for f in s.footer for t in wrap(printable(f), w)]
    ops.append(Cut())
    return Receipt(tuple(ops), w)


def layout_test_page(s: ReceiptSettings, now: datetime, status_lines: list[str] | None = None) -> Receipt:
    """A page that shows at a glance whether width, Chinese mode, QR and the cutter work."""
    w = s.width
    ops: list[Op] = header(s, "打印机测试 Printer test")
    ops.append(Line("=" * w))
    ruler = "".join(str(i % 10) for i in range(1, w + 1))
    ops.append(Line(ruler))
    ops += _lines(columns(f"宽度 Width {w}", f"{w} 列", w))
    ops += _lines(columns("中文 Chinese", "苹果 香蕉 牛奶", w))
    ops += _lines(columns("  0.512 kg x " + f"{s.yuan}6.98/kg", "3.57", w))
    ops += _lines(columns("合计 Total", f"{s.yuan}23.40", w), bold=True, tall=True)
    ops.append(Line("-" * w))
    for text in status_lines or []:
        ops += _lines(wrap(printable(text), w, 2))
    ops += _lines(columns("时间 Time", local_time(now, s.timezone), w))
    ops.append(Feed(1))
    ops.append(QrCode(s.qr_prefix + "TEST"))
    ops.append(Line("二维码测试 QR test", Align.CENTER))
    ops.append(Cut())
    return Receipt(tuple(ops), w)
