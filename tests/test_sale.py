"""Pricing rules of DESIGN 3.4 on the cart, with property tests for the invariants."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.catalog import Item, Unit
from kiosk.money import Money
from kiosk.sale import Cart, LineKind, tax_by_rate

COLA = Item("06901234567892", None, "可乐", "Cola", Money(350), Unit.EACH)
BANANA = Item(None, "4011", "香蕉", "Banana", Money(698), Unit.KG, tax_rate=Decimal("0.09"))
LOOSE = Item(None, "4999", "散装糖", "Loose candy", Money(100), Unit.EACH)


def test_same_gtin_merges_and_weighed_lines_stay_apart():
    cart, _ = Cart().add_item(COLA)
    cart, line = cart.add_item(COLA, 2)
    assert (len(cart.lines), line.qty, line.amount) == (1, 3, Money(1050))
    cart, _ = cart.add_weighed(BANANA, 500)
    cart, _ = cart.add_weighed(BANANA, 500)
    assert len(cart.lines) == 3
    cart, _ = cart.add_item(LOOSE)
    cart, _ = cart.add_item(LOOSE)
    assert cart.line(4).qty == 2, "PLU items sold each merge too"


def test_discount_line_and_total_never_negative():
    cart, _ = Cart().add_item(COLA)
    cart, line = cart.add_discount("C-OFF5", "立减5元", "5 off", Money(500), Decimal("0.13"))
    assert line.kind is LineKind.DISCOUNT and line.amount == Money(-500)
    assert cart.total == Money(0)
    assert cart.subtotal == Money(350)


def test_bad_edits_are_refused():
    cart, _ = Cart().add_weighed(BANANA, 300)
    with pytest.raises(ValueError):
        cart.set_qty(1, 2)
    with pytest.raises(KeyError):
        cart.set_qty(9, 2)
    with pytest.raises(ValueError):
        Cart().add_item(COLA, 0)
    with pytest.raises(ValueError):
        Cart().add_weighed(BANANA, 0)


def test_tax_per_rate():
    cart, _ = Cart().add_item(COLA, 2)  # 7.00 at 13%
    cart, _ = cart.add_weighed(BANANA, 1000)  # 6.98 at 9%
    assert tax_by_rate(cart.lines) == {Decimal("0.09"): Money(58), Decimal("0.13"): Money(81)}


actions = st.lists(st.one_of(
    st.tuples(st.just("item"), st.integers(1, 5)),
    st.tuples(st.just("weighed"), st.integers(1, 20_000)),
    st.tuples(st.just("discount"), st.integers(0, 100_000)),
    st.tuples(st.just("remove"), st.integers(1, 30)),
), max_size=30)


@given(actions)
def test_cart_invariants(steps):
    cart = Cart()
    for kind, value in steps:
        if kind == "item":
            cart, _ = cart.add_item(COLA, value)
        elif kind == "weighed":
            cart, _ = cart.add_weighed(BANANA, value)
        elif kind == "discount":
            cart, _ = cart.add_discount("D", "折扣", "Discount", Money(value), Decimal("0.13"))
        elif cart.line(value) is not None:
            cart, _ = cart.remove(value)
    total = sum(line.amount.fen for line in cart.lines)
    assert cart.total.fen == max(total, 0) >= 0
    assert len({line.line_no for line in cart.lines}) == len(cart.lines)
    assert len([line for line in cart.item_lines if line.gtin == COLA.gtin]) <= 1
    assert all(isinstance(line.amount.fen, int) for line in cart.lines)


def test_a_basket_discount_is_shared_over_the_tax_rates():
    from kiosk.sale import split_by_rate
    cart, _ = Cart().add_item(COLA, 10)  # 35.00 at 13%
    cart, _ = cart.add_weighed(BANANA, 1000)  # 6.98 at 9%
    parts = split_by_rate(Money(2000), cart.lines)
    assert sum(p.fen for _, p in parts) == 2000
    assert dict(parts) == {Decimal("0.09"): Money(333), Decimal("0.13"): Money(1667)}
    for rate, part in parts:
        cart, _ = cart.add_discount("C-OFF20", "立减20元", "20 off", part, rate)
    assert cart.total == Money(2198)
    tax = tax_by_rate(cart.lines)
    assert tax[Decimal("0.13")] == Money(211) and tax[Decimal("0.09")] == Money(30)


@given(st.integers(1, 10**6), st.lists(st.tuples(st.sampled_from(["0.13", "0.09", "0"]), st.integers(1, 10**5)),
                                       min_size=1, max_size=6))
def test_split_by_rate_adds_up(amount, lines):
    from kiosk.sale import split_by_rate
    cart = Cart()
    for i, (rate, price) in enumerate(lines):
        item = Item(None, str(1000 + i), "x", "x", Money(price), Unit.EACH, tax_rate=Decimal(rate))
        cart, _ = cart.add_item(item)
    parts = split_by_rate(Money(amount), cart.lines)
    assert sum(p.fen for _, p in parts) == amount and all(p.fen > 0 for _, p in parts)
