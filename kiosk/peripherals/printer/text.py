"""Text for a receipt printer in Chinese mode: what can be printed and how wide it is.

A printer in Chinese (GB18030) mode prints ASCII in one column and every two-byte GB code as a
full-width glyph in two columns. That includes CJK characters (``unicodedata.east_asian_width``
W or F) and also the "ambiguous" characters GB2312 contains (``×``, ``·``, ``é``), which a
terminal would draw narrow but the printer draws wide. ``printable`` first reduces text to ASCII
plus two-byte GB codes, so widths here are exactly the printer's columns; the PNG preview draws
on the same grid.
"""

from __future__ import annotations

import unicodedata

# GB18030 sends these as four-byte sequences that most printers cannot print; the full-width
# forms have two-byte codes.
_SUBSTITUTES = {"¥": "￥", "\u00a0": " ", "\t": " "}


def printable(text: str) -> str:
    """NFC, no control characters (they could smuggle ESC/POS commands), and every character
    either ASCII or a two-byte GB18030 code; anything else becomes ``?``."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        ch = _SUBSTITUTES.get(ch, ch)
        if ch < " " or ch == "\x7f" or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        if ch.isascii():
            out.append(ch)
            continue
        try:
            code = ch.encode("gb18030")
        except UnicodeEncodeError:
            code = b""
        out.append(ch if len(code) == 2 else "?")
    return "".join(out)


def char_width(ch: str) -> int:
    """Columns one character takes on the printer (and in the preview)."""
    if ch.isascii():
        return 1
    if unicodedata.combining(ch):
        return 0
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 2
    try:
        return 2 if len(ch.encode("gb18030")) == 2 else 1
    except UnicodeEncodeError:
        return 1


def display_width(text: str) -> int:
    return sum(char_width(ch) for ch in text)


def cut_to_width(text: str, width: int) -> tuple[str, str]:
    """Split ``text`` into a head of at most ``width`` columns and the rest (a wide character
    never straddles the edge)."""
    used = 0
    for i, ch in enumerate(text):
        w = char_width(ch)
        if used + w > width:
            return text[:i], text[i:]
        used += w
    return text, ""


def _break(text: str, width: int) -> tuple[str, str]:
    """The first line of ``text`` (at most ``width`` columns) and the rest, breaking at a space
    when one falls in the second half of the line."""
    head, tail = cut_to_width(text, width)
    if not head:  # not even one character fits: print it anyway rather than loop
        head, tail = text[:1], text[1:]
    if tail and not tail.startswith(" ") and " " in head:
        cut = head.rstrip().rfind(" ")
        if cut > 0 and display_width(head[:cut]) >= width // 2:
            head, tail = head[:cut], head[cut:] + tail
    return head.rstrip(), tail.lstrip()


def wrap(text: str, width: int, indent: int = 0) -> list[str]:
    """Lines of at most ``width`` columns; continuation lines start with ``indent`` spaces."""
    lines: list[str] = []
    rest = text.rstrip()
    while rest:
        room = width if not lines else max(1, width - indent)
        head, rest = _break(rest, room)
        lines.append(head if not lines else " " * indent + head)
    return lines or [""]


def pad_right(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def pad_left(text: str, width: int) -> str:
    return " " * max(0, width - display_width(text)) + text


def center(text: str, width: int) -> str:
    spare = max(0, width - display_width(text))
    return " " * (spare // 2) + text + " " * (spare - spare // 2)


def columns(left: str, right: str, width: int, indent: int = 0) -> list[str]:
    """``left`` and ``right`` on one line of exactly ``width`` columns, ``right`` flush right.

    When they do not fit, ``left`` wraps (continuation lines indented by ``indent``) and
    ``right`` goes flush right on the last line if it fits there, else on a line of its own.
    """
    if display_width(left) + 1 + display_width(right) <= width:
        return [left + " " * (width - display_width(left) - display_width(right)) + right]
    lines = wrap(left, width, indent)
    last = lines[-1]
    if display_width(last) + 1 + display_width(right) <= width:
        lines[-1] = last + " " * (width - display_width(last) - display_width(right)) + right
    else:
        lines.append(pad_left(right, width))
    return [pad_right(line, width) for line in lines]
