"""Carts and sales, with the pricing rules of DESIGN 3.4.

A ``Cart`` is the shopper's basket while shopping; it is immutable (each change returns a new
cart) so the checkout flow stays a pure function. ``Sale`` is what a paid cart becomes: the value
the store commits, the printer prints and the fleet receives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from kiosk.catalog import Item
from kiosk.money import Money, included_tax, weighed_amount

MAX_QTY = 999  # of one item on one line: more is a typo or a prank, not a shopping trip


class LineKind(StrEnum):
    ITEM = "item"
    DISCOUNT = "discount"


@dataclass(frozen=True, slots=True)
class SaleLine:
    """One receipt line. Discount lines carry a negative amount and qty 1."""

    line_no: int
    kind: LineKind
    gtin: str | None
    plu: str | None
    name_zh: str
    name_en: str
    qty: int
    weight_g: int | None  # net weight for weighed lines
    unit_price: Money  # per item, or per kg for weighed lines
    amount: Money  # tax-inclusive
    tax_rate: Decimal
    age_min: int = 0
    code: str | None = None  # coupon code for discount lines; the scanned text for price-embedded

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_zh

    @property
    def weight_kg(self) -> Decimal | None:
        return None if self.weight_g is None else Decimal(self.weight_g) / 1000

    def to_json(self) -> dict[str, object]:
        return {
            "line": self.line_no,
            "kind": str(self.kind),
            "gtin": self.gtin,
            "plu": self.plu,
            "name": self.name_zh,
            "name_en": self.name_en,
            "qty": self.qty,
            "weight_kg": None if self.weight_kg is None else float(self.weight_kg),
            "unit_price": str(self.unit_price),
            "amount": str(self.amount),
            "tax_rate": str(self.tax_rate),
        }


def tax_by_rate(lines: Iterable[SaleLine]) -> dict[Decimal, Money]:
    """Tax contained in the lines, per rate: derived once per rate from that rate's total."""
    totals: dict[Decimal, Money] = {}
    for line in lines:
        totals[line.tax_rate] = totals.get(line.tax_rate, Money(0)) + line.amount
    return {rate: included_tax(max(amount, Money(0)), rate) for rate, amount in sorted(totals.items())}


def split_by_rate(amount: Money, lines: Iterable[SaleLine]) -> list[tuple[Decimal, Money]]:
    """Share a basket discount out over the tax rates in proportion to what each rate's lines cost
    (largest remainder, so the parts add up to ``amount`` exactly); the tax per rate stays right."""
    totals: dict[Decimal, int] = {}
    for line in lines:
        if line.kind is LineKind.ITEM:
            totals[line.tax_rate] = totals.get(line.tax_rate, 0) + line.amount.fen
    base = sum(totals.values())
    if base <= 0 or amount.fen <= 0:
        return []
    rates = sorted(totals)
    exact = {rate: amount.fen * totals[rate] / base for rate in rates}
    parts = {rate: int(exact[rate]) for rate in rates}
    left = amount.fen - sum(parts.values())
    for rate in sorted(rates, key=lambda r: exact[r] - parts[r], reverse=True)[:left]:
        parts[rate] += 1
    return [(rate, Money(parts[rate])) for rate in rates if parts[rate]]


@dataclass(frozen=True, slots=True)
class Cart:
    lines: tuple[SaleLine, ...] = ()

    @property
    def item_lines(self) -> tuple[SaleLine, ...]:
        return tuple(line for line in self.lines if line.kind is LineKind.ITEM)

    @property
    def subtotal(self) -> Money:
        return sum((line.amount for line in self.item_lines), Money(0))

    @property
    def total(self) -> Money:
        """Sum of all lines, never negative (DESIGN 3.4)."""
        return max(sum((line.amount for line in self.lines), Money(0)), Money(0))

    @property
    def item_count(self) -> int:
        return sum(line.qty for line in self.item_lines)

    @property
    def is_empty(self) -> bool:
        return not self.item_lines

    def _next_no(self) -> int:
        return max((line.line_no for line in self.lines), default=0) + 1

    def line(self, line_no: int) -> SaleLine | None:
        return next((line for line in self.lines if line.line_no == line_no), None)

    def add_item(self, item: Item, qty: int = 1) -> tuple[Cart, SaleLine]:
        """Add an item sold by the piece; the same GTIN (or PLU) merges into its line."""
        if not 1 <= qty <= MAX_QTY:
            raise ValueError(f"quantity must be from 1 to {MAX_QTY}")
        for existing in self.item_lines:
            if existing.weight_g is None and existing.code is None and _same_item(existing, item):
                return self.set_qty(existing.line_no, existing.qty + qty)
        line = SaleLine(
            line_no=self._next_no(), kind=LineKind.ITEM, gtin=item.gtin, plu=item.plu,
            name_zh=item.name_zh, name_en=item.name_en, qty=qty, weight_g=None,
            unit_price=item.price, amount=item.price * qty, tax_rate=item.tax_rate,
            age_min=item.age_min,
        )
        return Cart(self.lines + (line,)), line

    def add_weighed(self, item: Item, weight_g: int) -> tuple[Cart, SaleLine]:
        """Add a weighed item; weighed items are always separate lines."""
        if weight_g <= 0:
            raise ValueError("weight must be positive")
        line = SaleLine(
            line_no=self._next_no(), kind=LineKind.ITEM, gtin=item.gtin, plu=item.plu,
            name_zh=item.name_zh, name_en=item.name_en, qty=1, weight_g=weight_g,
            unit_price=item.price, amount=weighed_amount(item.price, weight_g),
            tax_rate=item.tax_rate, age_min=item.age_min,
        )
        return Cart(self.lines + (line,)), line

    def add_priced(self, item: Item, amount: Money, weight_g: int | None, code: str) -> tuple[Cart, SaleLine]:
        """Add a price-embedded (GS1 variable measure) label: its own line, the label's price."""
        line = SaleLine(
            line_no=self._next_no(), kind=LineKind.ITEM, gtin=item.gtin, plu=item.plu,
            name_zh=item.name_zh, name_en=item.name_en, qty=1, weight_g=weight_g,
            unit_price=item.price if weight_g is not None else amount, amount=amount,
            tax_rate=item.tax_rate, age_min=item.age_min, code=code,
        )
        return Cart(self.lines + (line,)), line

    def add_discount(self, code: str, name_zh: str, name_en: str, amount: Money,
                     tax_rate: Decimal) -> tuple[Cart, SaleLine]:
        """Add a discount as its own negative line."""
        line = SaleLine(
            line_no=self._next_no(), kind=LineKind.DISCOUNT, gtin=None, plu=None,
            name_zh=name_zh, name_en=name_en, qty=1, weight_g=None, unit_price=-abs(amount),
            amount=-abs(amount), tax_rate=tax_rate, code=code,
        )
        return Cart(self.lines + (line,)), line

    def set_qty(self, line_no: int, qty: int) -> tuple[Cart, SaleLine]:
        line = self.line(line_no)
        if line is None or line.kind is not LineKind.ITEM:
            raise KeyError(line_no)
        if line.weight_g is not None or line.code is not None:
            raise ValueError("the quantity of a weighed or labelled line cannot change")
        if not 1 <= qty <= MAX_QTY:
            raise ValueError(f"quantity must be from 1 to {MAX_QTY}")
        new = replace(line, qty=qty, amount=line.unit_price * qty)
        return Cart(tuple(new if x.line_no == line_no else x for x in self.lines)), new

    def remove(self, line_no: int) -> tuple[Cart, SaleLine]:
        line = self.line(line_no)
        if line is None:
            raise KeyError(line_no)
        return Cart(tuple(x for x in self.lines if x.line_no != line_no)), line


def _same_item(line: SaleLine, item: Item) -> bool:
    if item.gtin is not None:
        return line.gtin == item.gtin
    return line.gtin is None and line.plu == item.plu


@dataclass(frozen=True, slots=True)
class Payment:
    method: str  # alipay | wechat | unionpay | emv | sim
    amount: Money
    status: str  # paid | declined | timeout | cancelled | refunded
    reference: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"method": self.method, "amount": str(self.amount), "status": self.status,
                "reference": self.reference}


@dataclass(frozen=True, slots=True)
class Sale:
    """A completed (paid) sale: what is committed, printed and sent to the fleet."""

    sale_id: str
    kiosk_id: str
    store: str
    lane: int
    started_at: datetime  # UTC
    completed_at: datetime  # UTC
    lines: tuple[SaleLine, ...]
    payments: tuple[Payment, ...]
    receipt_token: str
    member_id: str | None = None
    currency: str = "CNY"
    attendants: tuple[str, ...] = field(default=())

    @property
    def total(self) -> Money:
        return Cart(self.lines).total

    @property
    def tax(self) -> dict[Decimal, Money]:
        return tax_by_rate(self.lines)

    def to_event(self) -> dict[str, object]:
        """The ``sale.completed`` event of DESIGN 3.2."""
        return {
            "event": "sale.completed",
            "sale_id": self.sale_id,
            "kiosk_id": self.kiosk_id,
            "lane": self.lane,
            "started_at": self.started_at.isoformat(),
            "completed_at": self.completed_at.isoformat(),
            "total": str(self.total),
            "currency": self.currency,
            "tax": {str(rate): str(amount) for rate, amount in self.tax.items()},
            "member_id": self.member_id,
            "receipt_token": self.receipt_token,
            "lines": [line.to_json() for line in self.lines],
            "payments": [p.to_json() for p in self.payments],
        }
