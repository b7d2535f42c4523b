"""Money as integer fen. Never float.

``Money`` is a frozen value; arithmetic with ints multiplies, with Money adds. Rounding of any
fractional fen (weighed items, derived tax) is half up, away from zero, as on a shop receipt.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN_PER_YUAN = 100
MAX_FEN = 10**14  # a trillion yuan: anything larger is a typo or an attack


@dataclass(frozen=True, order=True, slots=True)
class Money:
    fen: int

    def __post_init__(self) -> None:
        if isinstance(self.fen, bool) or not isinstance(self.fen, int):
            raise TypeError(f"Money takes integer fen, got {self.fen!r}")

    @classmethod
    def zero(cls) -> Money:
        return cls(0)

    @classmethod
    def parse(cls, text: str | int | Decimal) -> Money:
        """Parse yuan with up to two decimals ("3.5", "12.40", 7) into Money.

        Raises ValueError for anything else (floats, three decimals, words).
        """
        if isinstance(text, bool) or isinstance(text, float):
            raise ValueError(f"amount must be written in yuan as text, got {text!r}")
        try:
            value = Decimal(str(text).strip())
        except InvalidOperation:
            raise ValueError(f"not an amount in yuan: {text!r}") from None
        if not value.is_finite():
            raise ValueError(f"not an amount in yuan: {text!r}")
        fen = value * FEN_PER_YUAN
        if abs(fen) > MAX_FEN:
            raise ValueError(f"amount is beyond any price a shop charges: {text!r}")
        if fen != fen.to_integral_value():
            raise ValueError(f"amount has more than 2 decimals: {text!r}")
        return cls(int(fen))

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.fen + other.fen)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        return Money(self.fen - other.fen)

    def __neg__(self) -> Money:
        return Money(-self.fen)

    def __abs__(self) -> Money:
        return Money(abs(self.fen))

    def __mul__(self, qty: int) -> Money:
        if isinstance(qty, bool) or not isinstance(qty, int):
            return NotImplemented
        return Money(self.fen * qty)

    __rmul__ = __mul__

    def __bool__(self) -> bool:
        return self.fen != 0

    def __str__(self) -> str:
        """Yuan with two decimals, as in events and receipts: "23.40", "-1.00"."""
        sign = "-" if self.fen < 0 else ""
        yuan, fen = divmod(abs(self.fen), FEN_PER_YUAN)
        return f"{sign}{yuan}.{fen:02d}"

    def display(self, symbol: str = "¥") -> str:
        sign = "-" if self.fen < 0 else ""
        return f"{sign}{symbol}{str(abs(self))}"


def round_half_up(value: Decimal) -> int:
    """Round a Decimal number of fen to whole fen, halves away from zero."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def weighed_amount(price_per_kg: Money, weight_g: int) -> Money:
    """``round_half_up(price_per_kg x net_kg)`` in fen (DESIGN 3.4)."""
    return Money(round_half_up(Decimal(price_per_kg.fen) * Decimal(weight_g) / Decimal(1000)))


def included_tax(amount: Money, rate: Decimal) -> Money:
    """Tax contained in a tax-inclusive amount: amount x rate / (1 + rate), half up."""
    if rate <= 0:
        return Money(0)
    return Money(round_half_up(Decimal(amount.fen) * rate / (1 + rate)))
