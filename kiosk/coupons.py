"""Coupon codes and what they take off a basket.

Codes as printed on paper coupons or sent to phones (prefix ``C-``):
``C-FULL100-10`` ten yuan off when the basket reaches 100 yuan; ``C-OFF5`` five yuan off;
``C-PCT10`` ten percent off (at most 50 yuan). A coupon never takes the total below zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from kiosk.money import Money, round_half_up

_FULL = re.compile(r"^C-FULL(\d{1,5})-(\d{1,4})$")
_OFF = re.compile(r"^C-OFF(\d{1,4})$")
_PCT = re.compile(r"^C-PCT(\d{1,2})$")
PCT_CAP = Money(5000)


@dataclass(frozen=True, slots=True)
class Coupon:
    code: str
    name_zh: str
    name_en: str
    threshold: Money  # basket subtotal needed
    off: Money = Money(0)
    percent: int = 0

    def discount(self, subtotal: Money) -> Money:
        """How much this coupon takes off ``subtotal`` (zero when the threshold is not met)."""
        if subtotal < self.threshold or subtotal.fen <= 0:
            return Money(0)
        if self.percent:
            amount = Money(min(round_half_up(Decimal(subtotal.fen) * self.percent / 100), PCT_CAP.fen))
        else:
            amount = self.off
        return min(amount, subtotal)


def parse_coupon(code: str) -> Coupon | None:
    """The coupon a code stands for, or None when the code is not one we honour."""
    code = code.strip().upper()
    if m := _FULL.match(code):
        threshold, off = Money(int(m.group(1)) * 100), Money(int(m.group(2)) * 100)
        if off.fen == 0 or off > threshold:
            return None
        return Coupon(code, f"满{m.group(1)}减{m.group(2)}", f"{m.group(2)} off {m.group(1)}", threshold, off)
    if m := _OFF.match(code):
        off = Money(int(m.group(1)) * 100)
        return Coupon(code, f"立减{m.group(1)}元", f"{m.group(1)} yuan off", Money(1), off) if off.fen else None
    if m := _PCT.match(code):
        pct = int(m.group(1))
        if not 1 <= pct <= 90:
            return None
        return Coupon(code, f"{100 - pct}折".replace("0折", "折") if pct % 10 == 0 else f"优惠{pct}%",
                      f"{pct}% off", Money(1), percent=pct)
    return None
