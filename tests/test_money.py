"""Money is integer fen; rounding is half up; tax is derived from tax-inclusive prices."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.money import Money, included_tax, round_half_up, weighed_amount

fen = st.integers(min_value=-10**9, max_value=10**9)


@pytest.mark.parametrize("text, expected", [("3.5", 350), ("12.40", 1240), ("0", 0), (7, 700),
                                            ("-1.05", -105), (" 2.00 ", 200)])
def test_parse(text, expected):
    assert Money.parse(text) == Money(expected)


@pytest.mark.parametrize("bad", ["3.999", "abc", "", "NaN", "Infinity", 3.5, True, "1e400"])
def test_parse_rejects(bad):
    with pytest.raises(ValueError):
        Money.parse(bad)


def test_float_and_bool_fen_are_refused():
    with pytest.raises(TypeError):
        Money(3.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True)


@given(fen)
def test_str_parse_round_trip(value):
    assert Money.parse(str(Money(value))) == Money(value)


@given(fen, fen)
def test_addition_is_exact(a, b):
    assert (Money(a) + Money(b)).fen == a + b
    assert (Money(a) - Money(b)).fen == a - b


@pytest.mark.parametrize("price, grams, expected", [
    (698, 512, 357),     # 3.57376
    (1000, 1005, 1005),
    (100, 5, 1),         # 0.5 fen rounds up
    (100, 4, 0),
    (1180, 1231, 1453),  # 14.5258
    (3, 500, 2),         # 1.5 -> 2
])
def test_weighed_amount_rounds_half_up(price, grams, expected):
    assert weighed_amount(Money(price), grams) == Money(expected)


@given(st.integers(0, 10**6), st.integers(0, 100_000))
def test_weighed_amount_is_within_half_a_fen(price, grams):
    exact = Decimal(price) * grams / 1000
    assert abs(Decimal(weighed_amount(Money(price), grams).fen) - exact) <= Decimal("0.5")


def test_round_half_up_goes_away_from_zero():
    assert round_half_up(Decimal("2.5")) == 3
    assert round_half_up(Decimal("-2.5")) == -3
    assert round_half_up(Decimal("2.4999")) == 2


@pytest.mark.parametrize("amount, rate, tax", [(11300, "0.13", 1300), (10900, "0.09", 900), (350, "0.13", 40),
                                               (1000, "0", 0)])
def test_included_tax(amount, rate, tax):
    assert included_tax(Money(amount), Decimal(rate)) == Money(tax)


@given(st.integers(0, 10**8), st.sampled_from(["0.13", "0.09", "0.06", "0.03"]))
def test_tax_is_less_than_the_amount(amount, rate):
    tax = included_tax(Money(amount), Decimal(rate))
    assert 0 <= tax.fen <= amount


def test_display():
    assert str(Money(-105)) == "-1.05"
    assert Money(123456).display() == "¥1234.56"
    assert Money(-5).display() == "-¥0.05"
