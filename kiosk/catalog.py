"""The product catalog: items as the shop sells them, stored in SQLite, exchanged as CSV (DESIGN 3.3)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from kiosk.money import Money


class Unit(StrEnum):
    EACH = "each"
    KG = "kg"


@dataclass(frozen=True, slots=True)
class Item:
    """One catalog row. ``price`` is per item (``Unit.EACH``) or per kilogram (``Unit.KG``)."""

    gtin: str | None  # GTIN-14, or None for PLU-only produce
    plu: str | None
    name_zh: str
    name_en: str
    price: Money
    unit: Unit
    weight_g: int | None = None  # expected weight of one item (bagging scale); None = unknown
    weight_tol_g: int | None = None
    tare_g: int = 0
    age_min: int = 0
    tax_rate: Decimal = Decimal("0.13")
    stock: int | None = None
    category: str = ""

    @property
    def weighed(self) -> bool:
        return self.unit is Unit.KG

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_zh
