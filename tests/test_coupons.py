from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.coupons import parse_coupon
from kiosk.money import Money


@pytest.mark.parametrize("code, subtotal, off", [
    ("C-FULL100-10", 9999, 0), ("C-FULL100-10", 10000, 1000), ("c-full100-10", 25000, 1000),
    ("C-OFF5", 350, 350), ("C-OFF5", 1000, 500), ("C-PCT10", 1000, 100), ("C-PCT50", 1_000_000, 5000),
])
def test_discounts(code, subtotal, off):
    assert parse_coupon(code).discount(Money(subtotal)) == Money(off)


@pytest.mark.parametrize("code", ["C-FULL10-20", "C-OFF0", "C-PCT0", "C-PCT95", "X-OFF5", "", "C-OFF5; DROP"])
def test_not_honoured(code):
    assert parse_coupon(code) is None


@given(st.text(max_size=60), st.integers(0, 10**7))
def test_never_more_than_the_basket(code, subtotal):
    coupon = parse_coupon(code)
    if coupon is not None:
        assert 0 <= coupon.discount(Money(subtotal)).fen <= subtotal
