"""Display widths as the printer counts them in Chinese mode, and alignment."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as hs

from kiosk.peripherals.printer.text import (
    center,
    char_width,
    columns,
    cut_to_width,
    display_width,
    printable,
    wrap,
)


def test_widths() -> None:
    assert display_width("Apple") == 5
    assert display_width("苹果") == 4
    assert display_width("苹果 Apple") == 10
    assert display_width("￥3.50") == 6  # full-width yen
    assert char_width("×") == 2  # ambiguous, but a two-byte GB code: printed full width
    assert char_width("é") == 2
    assert char_width("\u0301") == 0  # combining


def test_printable_removes_controls_and_unprintables() -> None:
    assert printable("a\x1b@b") == "a@b"  # an ESC in a product name cannot become a command
    assert printable("¥5") == "￥5"  # four-byte GB18030 code -> two-byte full-width form
    assert printable("tea 🍵") == "tea ?"
    assert printable("Cafe\u0301") == "Café"  # NFC first
    assert printable("a\tb\u00a0c") == "a b c"


def test_columns_align_mixed_cjk() -> None:
    width = 32
    rows = [columns("苹果 Apple", "3.57", width)[0], columns("Banana", "12.00", width)[0],
            columns("可口可乐 Coca-Cola 330ml", "-1.00", width)[0]]
    assert [display_width(r) for r in rows] == [width] * 3
    assert all(r.endswith(a) for r, a in zip(rows, ["3.57", "12.00", "-1.00"], strict=True))
    assert rows[0] == "苹果 Apple" + " " * (32 - 10 - 4) + "3.57"


def test_columns_wrap_long_names_and_keep_amount_right() -> None:
    rows = columns("农夫山泉天然饮用水550毫升特惠装 Nongfu Spring natural water", "2.00", 32, indent=2)
    assert len(rows) > 1
    assert all(display_width(r) == 32 for r in rows)
    assert rows[-1].endswith("2.00")
    assert all(r.startswith("  ") for r in rows[1:])


def test_wrap_never_splits_a_wide_character() -> None:
    assert wrap("中文中文中", 3) == ["中", "文", "中", "文", "中"]
    head, tail = cut_to_width("a中b", 2)
    assert (head, tail) == ("a", "中b")


def test_wrap_prefers_spaces() -> None:
    assert wrap("Coca-Cola Classic can", 12) == ["Coca-Cola", "Classic can"]


def test_center() -> None:
    assert center("中文", 8) == "  中文  "


@given(hs.text(alphabet=hs.sampled_from("苹果香蕉牛奶 abcdefgh12345￥×é"), max_size=80),
       hs.integers(4, 60))
def test_wrap_lines_fit(text: str, width: int) -> None:
    for line in wrap(text, width, indent=2):
        assert display_width(line) <= width


@given(hs.text(max_size=40))
def test_printable_is_gb_printable(text: str) -> None:
    for ch in printable(text):
        assert ch.isascii() and ch >= " " or len(ch.encode("gb18030")) == 2
