"""The product catalog: items as the shop sells them, stored in SQLite, exchanged as CSV (DESIGN 3.3).

``Catalog`` answers lookups over the ``items`` table. ``read_csv`` checks every row of a catalog
file and reports all the problems at once, each with its line and column; ``import_csv`` then
replaces the whole catalog in one transaction, so a bad file changes nothing.
"""

from __future__ import annotations

import csv
import io
import os
import re
import sqlite3
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from kiosk.barcodes import check_digit, to_gtin14
from kiosk.db import transaction
from kiosk.errors import CatalogError
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


COLUMNS = ("gtin", "plu", "name_zh", "name_en", "price", "unit", "weight_g", "weight_tol_g",
           "tare_g", "age_min", "tax_rate", "stock", "category")
MAX_LISTED_PROBLEMS = 20
SEARCH_LIMIT = 50
_MAX_PRICE = Money(99_999_99)


# --- GTINs --------------------------------------------------------------------------------------

def normalize_gtin(text: str) -> str:
    """GTIN-8, -12 (UPC-A), -13 or -14 as the 14-digit form used for lookups; ValueError if invalid."""
    if re.fullmatch(r"\d+(\.\d+)?[eE]\+?\d+", text):
        raise ValueError(f"{text!r} is a number in scientific notation, as a spreadsheet writes long "
                         "numbers; format the column as text and type the barcode digits again")
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"{text!r} is not a barcode number (digits only)")
    if len(text) not in (8, 12, 13, 14):
        raise ValueError(f"{text!r} has {len(text)} digits; a GTIN has 8, 12, 13 or 14 "
                         "(a spreadsheet may have dropped leading zeros)")
    gtin14 = to_gtin14(text)
    if gtin14 is None:
        raise ValueError(f"{text!r} has a wrong check digit (with these other digits it would be "
                         f"{check_digit(text[:-1])}); check the number on the pack")
    return gtin14


def gtin_for_display(gtin14: str) -> str:
    """The usual printed form of a GTIN-14: 8 digits for GTIN-8, else 13 when it starts with 0."""
    if gtin14.startswith("000000"):
        return gtin14[6:]
    return gtin14[1:] if gtin14.startswith("0") else gtin14


def _plu_key(plu: str) -> str:
    """PLU 04011 on a scale label is PLU 4011 in the catalog."""
    return plu.lstrip("0") or "0"


def _in_produce_picker(item: Item) -> bool:
    """Loose produce the shopper weighs or counts: a PLU and no barcode, and an IFPS-style code
    (four digits, or five starting with 9 for organic). Other PLUs (10001 ...) are store codes
    for counter goods that arrive with a price-embedded scale label (DESIGN 3.4)."""
    if item.gtin is not None or item.plu is None:
        return False
    code = _plu_key(item.plu)
    return len(code) <= 4 or (len(code) == 5 and code.startswith("9"))


# --- the catalog in SQLite ----------------------------------------------------------------------

_FIELDS = ("gtin, plu, name_zh, name_en, price_fen, unit, weight_g, weight_tol_g, tare_g, "
           "age_min, tax_rate, stock, category")


def _item_from_row(row: Sequence[Any]) -> Item:
    gtin, plu, name_zh, name_en, price_fen, unit, weight_g, tol, tare, age, tax, stock, cat = row
    return Item(gtin=gtin, plu=plu, name_zh=name_zh, name_en=name_en, price=Money(price_fen),
                unit=Unit(unit), weight_g=weight_g, weight_tol_g=tol, tare_g=tare, age_min=age,
                tax_rate=Decimal(tax), stock=stock, category=cat)


def _row_from_item(item: Item) -> tuple[object, ...]:
    return (item.gtin, item.plu, item.name_zh, item.name_en, item.price.fen, str(item.unit),
            item.weight_g, item.weight_tol_g, item.tare_g, item.age_min, format(item.tax_rate, "f"),
            item.stock, item.category)


class Catalog:
    """Lookups and small edits over the ``items`` table of an open kiosk database.

    Edits run as single statements, so a caller may put them inside its own transaction (a sale
    commit adjusting stock, a fleet price push) and they commit or roll back with it.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def _one(self, where: str, *params: object) -> Item | None:
        row = self.conn.execute(f"SELECT {_FIELDS} FROM items WHERE {where}", params).fetchone()
        return None if row is None else _item_from_row(tuple(row))

    def _many(self, sql: str = "", params: Sequence[object] = ()) -> list[Item]:
        rows = self.conn.execute(f"SELECT {_FIELDS} FROM items {sql}", params).fetchall()
        return [_item_from_row(tuple(r)) for r in rows]

    def by_gtin(self, gtin: str) -> Item | None:
        """The item with this GTIN; 8-, 12- and 13-digit forms are padded to GTIN-14."""
        if not gtin.isascii() or not gtin.isdigit() or len(gtin) > 14:
            return None
        return self._one("gtin = ?", gtin.zfill(14))

    def by_plu(self, plu: str) -> Item | None:
        """The item with this PLU; leading zeros (from a scale label's item code) are ignored."""
        plu = plu.strip()
        if not plu:
            return None
        exact = self._one("plu = ?", plu)
        if exact is not None or not plu.isdigit():
            return exact
        return self._one("ltrim(plu, '0') = ? AND plu GLOB '[0-9]*'", plu.lstrip("0"))

    def find(self, code: str) -> Item | None:
        """The item a GTIN or a PLU names (a valid GTIN wins over a PLU with the same digits)."""
        try:
            item = self.by_gtin(normalize_gtin(code.strip()))
        except ValueError:
            item = None
        return item if item is not None else self.by_plu(code)

    def produce(self, language: str = "zh") -> list[Item]:
        """Items for the produce picker, sorted by category then name in ``language``."""
        items = [i for i in self._many("WHERE gtin IS NULL AND plu IS NOT NULL") if _in_produce_picker(i)]
        return sorted(items, key=lambda i: (i.category, i.name(language), i.plu or ""))

    def search(self, text: str, language: str = "zh", limit: int = SEARCH_LIMIT) -> list[Item]:
        """Items whose Chinese or English name contains every word of ``text`` (English ignoring
        case), or whose PLU or GTIN is ``text``; names in ``language`` that start with it come first."""
        words = text.split()
        if not words:
            return []
        name = "name_en" if language == "en" else "name_zh"
        clauses, params = [], []
        for word in words:
            pattern = "%" + re.sub(r"([\\%_])", r"\\\1", word) + "%"
            clauses.append("(name_zh LIKE ? ESCAPE '\\' OR name_en LIKE ? ESCAPE '\\')")
            params += [pattern, pattern]
        where = " AND ".join(clauses)
        code = text.strip()
        if code.isascii() and code.isdigit():
            where = f"({where}) OR plu = ? OR gtin = ?"
            params += [code, code.zfill(14) if len(code) <= 14 else code]
        prefix = re.sub(r"([\\%_])", r"\\\1", text.strip()) + "%"
        order = f"CASE WHEN {name} LIKE ? ESCAPE '\\' THEN 0 ELSE 1 END, {name}, id"
        return self._many(f"WHERE {where} ORDER BY {order} LIMIT ?", [*params, prefix, limit])

    def all(self) -> list[Item]:
        """Every item, in catalog (import) order."""
        return self._many("ORDER BY id")

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM items").fetchone()[0])

    def _id(self, code: str) -> int:
        item = self.find(code)
        if item is None:
            raise CatalogError(f"no item in the catalog has the GTIN or PLU {code!r}")
        column, value = ("gtin", item.gtin) if item.gtin is not None else ("plu", item.plu)
        return int(self.conn.execute(f"SELECT id FROM items WHERE {column} = ?", (value,)).fetchone()[0])

    def set_price(self, code: str, price: Money) -> Item:
        """Change the price of the item with this GTIN or PLU; returns the updated item."""
        if price.fen < 0 or price > _MAX_PRICE:
            raise CatalogError(f"price {price} for {code} is not allowed; it must be 0.00 to {_MAX_PRICE}")
        item_id = self._id(code)
        self.conn.execute("UPDATE items SET price_fen = ? WHERE id = ?", (price.fen, item_id))
        item = self._one("id = ?", item_id)
        assert item is not None
        return item

    def adjust_stock(self, code: str, delta: int) -> int | None:
        """Add ``delta`` (negative for a sale) to the stock of this GTIN or PLU; returns the new
        count, or None when the item's stock is not tracked (empty in the catalog)."""
        row = self.conn.execute("UPDATE items SET stock = stock + ? WHERE id = ? RETURNING stock",
                                (int(delta), self._id(code))).fetchone()
        return None if row is None else row[0]


def replace_items(conn: sqlite3.Connection, items: Sequence[Item], *, only_if_empty: bool = False) -> int:
    """Replace the whole catalog with ``items`` in one transaction; returns how many were stored.

    With ``only_if_empty`` an existing catalog is left alone and 0 is returned.
    """
    try:
        with transaction(conn):
            if only_if_empty and conn.execute("SELECT 1 FROM items LIMIT 1").fetchone():
                return 0
            conn.execute("DELETE FROM items")
            conn.executemany(f"INSERT INTO items ({_FIELDS}) VALUES ({', '.join('?' * 13)})",
                             [_row_from_item(i) for i in items])
    except sqlite3.IntegrityError as exc:
        raise CatalogError(f"catalog not stored, the items break a database rule: {exc}") from None
    return len(items)


# --- CSV ----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a catalog file. ``line`` counts from 1 (the header)."""

    source: str
    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source} line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class CatalogFileError(CatalogError):
    """A catalog file has problems; ``problems`` lists every one, in file order."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        listed = [str(p) for p in self.problems[:MAX_LISTED_PROBLEMS]]
        if len(self.problems) > MAX_LISTED_PROBLEMS:
            listed.append(f"and {len(self.problems) - MAX_LISTED_PROBLEMS} more")
        if len(self.problems) == 1:
            message = listed[0]
        else:
            message = f"{source} has {len(self.problems)} problems:\n  " + "\n  ".join(listed)
        super().__init__(message)


class _Bad(ValueError):
    """A cell's value is wrong; the message says why."""


def _show(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


def _whole(value: str, what: str, lo: int | None = 0, hi: int | None = None) -> int:
    if not re.fullmatch(r"-?\d+", value):
        raise _Bad(f"{_show(value)} is not a whole number of {what}")
    number = int(value)
    if lo is not None and number < lo:
        raise _Bad(f"{_show(value)} is below {lo}")
    if hi is not None and number > hi:
        raise _Bad(f"{_show(value)} is above {hi}")
    return number


def _price(value: str) -> Money:
    if not value:
        raise _Bad("is empty; write the price in yuan, e.g. 3.50")
    if not re.fullmatch(r"-?\d*\.?\d+|-?\d+\.", value):
        raise _Bad(f"{_show(value)} is not a price in yuan; write digits only, e.g. 3.50")
    if value.startswith("-"):
        raise _Bad(f"{_show(value)} is negative; a price must be 0 or more")
    try:
        price = Money.parse(value)
    except ValueError:
        raise _Bad(f"{_show(value)} has more than 2 decimals") from None
    if price > _MAX_PRICE:
        raise _Bad(f"{_show(value)} is more than the largest price {_MAX_PRICE}")
    return price


def _tax_rate(value: str) -> Decimal:
    if not re.fullmatch(r"\d*\.?\d+", value):
        raise _Bad(f"{_show(value)} is not a tax rate; write a decimal from 0 to 1, e.g. 0.13 or 0.09")
    rate = Decimal(value)
    if rate > 1:
        raise _Bad(f"{_show(value)} is more than 1; write 13% as 0.13")
    return rate


def _cell(column: str, value: str) -> object:
    """Parse one cell; raises _Bad. Empty optional cells become their default."""
    if column == "gtin":
        if not value:
            return None
        try:
            return normalize_gtin(value)
        except ValueError as exc:
            raise _Bad(str(exc)) from None
    if column == "plu":
        if value and not re.fullmatch(r"\d{1,6}", value):
            raise _Bad(f"{_show(value)} is not a PLU; write 1 to 6 digits, e.g. 4011")
        return value or None
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise _Bad(f"{_show(value)} contains a line break, tab or other control character")
    if column in ("name_zh", "name_en"):
        if not value:
            raise _Bad("is empty; every item needs a name in Chinese and in English")
        return value
    if column == "price":
        return _price(value)
    if column == "unit":
        if value not in ("each", "kg"):
            raise _Bad(f"{_show(value)} is not a unit; write each or kg")
        return Unit(value)
    if column in ("weight_g", "weight_tol_g"):
        return _whole(value, "grams") if value else None
    if column == "tare_g":
        return _whole(value, "grams") if value else 0
    if column == "age_min":
        return _whole(value, "years", 0, 99) if value else 0
    if column == "tax_rate":
        if not value:
            raise _Bad("is empty; write the VAT rate, e.g. 0.13 (or 0.09 for farm produce)")
        return _tax_rate(value)
    if column == "stock":
        return _whole(value, "items", lo=None) if value else None
    return value  # category: free text


def _has_undecodable(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def _decode(data: bytes) -> tuple[str, str | None]:
    """The text (undecodable bytes kept as surrogates so each bad cell can be named) and, for a
    file that is not UTF-8, the advice to give once."""
    text = data.decode("utf-8-sig", errors="surrogateescape")
    if not _has_undecodable(text):
        return text, None
    advice = "is not UTF-8 text; save the file as UTF-8 ('CSV UTF-8' in Excel)"
    try:
        data.decode("gb18030")
        advice += " - it looks like GBK/GB18030, which Excel writes for plain 'CSV' on Chinese Windows"
    except UnicodeDecodeError:
        pass
    return text, advice


def _records(text: str, source: str) -> list[tuple[int, list[str]]]:
    """Non-blank CSV records with the line each starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records, last = [], 0
    try:
        for fields in reader:
            start, last = last + 1, reader.line_num
            if any(f.strip() for f in fields):
                records.append((start, fields))
    except csv.Error as exc:
        raise CatalogFileError(source, [Problem(source, last + 1, None, f"is not valid CSV ({exc}); "
                                                "a value with a comma or quote needs double quotes around it")]) from None
    return records


def _check_header(source: str, line: int, names: list[str]) -> list[Problem]:
    expected = ",".join(COLUMNS)
    if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
        sep = "';'" if ";" in names[0] else "tabs"
        return [Problem(source, line, None, f"columns are separated by {sep}; use commas: {expected}")]
    problems = []
    for i, name in enumerate(names):
        if name not in COLUMNS:
            problems.append(Problem(source, line, name or f"#{i + 1}", "is not a catalog column"))
        elif names.index(name) != i:
            problems.append(Problem(source, line, name, "appears twice in the header"))
    problems += [Problem(source, line, name, "is missing from the header") for name in COLUMNS if name not in names]
    if problems:  # say once what the header should be
        first = problems[0]
        problems[0] = Problem(source, line, first.column, f"{first.message} (the header must be {expected})")
    return problems


def parse_csv(data: bytes, source: str = "catalog.csv") -> list[Item]:
    """Check every row of a catalog file (DESIGN 3.3) and return its items.

    Raises ``CatalogFileError`` listing every problem with its line and column; nothing is
    returned unless the whole file is good.
    """
    text, encoding_advice = _decode(data)
    records = _records(text, source)
    if not records:
        raise CatalogFileError(source, [Problem(source, 1, None,
                                                f"the file is empty; the first line must be the header {','.join(COLUMNS)}")])
    header_line, header = records[0]
    names = [h.strip() for h in header]
    if encoding_advice and any(_has_undecodable(n) for n in names):
        raise CatalogFileError(source, [Problem(source, header_line, None, f"the header {encoding_advice}")])
    problems = _check_header(source, header_line, names)
    if problems:
        raise CatalogFileError(source, problems)

    items: list[Item] = []
    seen_gtin: dict[str, int] = {}
    seen_plu: dict[str, tuple[int, str]] = {}
    for line, fields in records[1:]:
        if len(fields) != len(names):
            problems.append(Problem(source, line, None, f"has {len(fields)} values but the header has "
                                    f"{len(names)} columns; a value with a comma needs double quotes around it"))
            continue
        values: dict[str, object] = {}
        row_problems = []
        for name, raw in zip(names, fields, strict=True):
            value = raw.strip()
            if _has_undecodable(value):
                message = encoding_advice or "is not UTF-8 text"
                encoding_advice = None  # the advice once; later cells just say what is wrong
                row_problems.append(Problem(source, line, name, message))
                continue
            try:
                values[name] = _cell(name, value)
            except _Bad as exc:
                row_problems.append(Problem(source, line, name, str(exc)))
        if "gtin" in values and "plu" in values and values["gtin"] is None and values["plu"] is None:
            row_problems.append(Problem(source, line, "gtin", "gtin and plu are both empty; an item needs a barcode or a PLU"))
        gtin, plu = values.get("gtin"), values.get("plu")
        if isinstance(gtin, str):
            if gtin in seen_gtin:
                row_problems.append(Problem(source, line, "gtin", f"{gtin_for_display(gtin)} is already used on line {seen_gtin[gtin]}"))
            else:
                seen_gtin[gtin] = line
        if isinstance(plu, str):
            key = _plu_key(plu)
            if key in seen_plu:
                first_line, first = seen_plu[key]
                same = "" if first == plu else f" (as {first})"
                row_problems.append(Problem(source, line, "plu", f"{plu} is already used on line {first_line}{same}"))
            else:
                seen_plu[key] = (line, plu)
        if row_problems:
            problems += row_problems
        else:
            items.append(Item(**values))  # type: ignore[arg-type]
    if not problems and not items:
        problems.append(Problem(source, header_line + 1, None, "there are no items after the header row"))
    if problems:
        raise CatalogFileError(source, problems)
    return items


def read_csv(path: str | Path) -> list[Item]:
    """Read and check a catalog file; see ``parse_csv``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CatalogError(f"catalog file {path} does not exist") from None
    except IsADirectoryError:
        raise CatalogError(f"catalog file {path} is a folder; give the path of a .csv file") from None
    except OSError as exc:
        raise CatalogError(f"cannot read catalog file {path}: {exc.strerror}") from None
    return parse_csv(data, path.name)


def to_csv(items: Iterable[Item]) -> str:
    """The catalog file for ``items``: ``read_csv`` of it gives the same items back."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for i in items:
        writer.writerow([
            "" if i.gtin is None else gtin_for_display(i.gtin), i.plu or "", i.name_zh, i.name_en,
            str(i.price), str(i.unit), "" if i.weight_g is None else i.weight_g,
            "" if i.weight_tol_g is None else i.weight_tol_g, i.tare_g, i.age_min, format(i.tax_rate, "f"),
            "" if i.stock is None else i.stock, i.category,
        ])
    return out.getvalue()


def import_csv(conn: sqlite3.Connection, path: str | Path) -> int:
    """Check the whole file, then replace the catalog with it in one transaction.

    A bad file raises ``CatalogFileError`` and leaves the existing catalog untouched.
    """
    return replace_items(conn, read_csv(path))


def export_csv(conn: sqlite3.Connection, path: str | Path, *, bom: bool = False) -> int:
    """Write the catalog to ``path`` (atomically) in the import format; returns the item count.

    ``bom`` starts the file with a UTF-8 byte-order mark so that Excel shows Chinese names.
    """
    items = Catalog(conn).all()
    data = ("\ufeff" if bom else "") + to_csv(items)
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise CatalogError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise CatalogError(f"cannot write {path}: {exc.strerror}") from None
    return len(items)


# --- the demo catalog ---------------------------------------------------------------------------

def demo_items() -> list[Item]:
    """The packaged demo catalog (kiosk/data/catalog.csv) of a Chinese supermarket."""
    data = (resources.files("kiosk") / "data" / "catalog.csv").read_bytes()
    return parse_csv(data, "kiosk/data/catalog.csv")


def load_demo(conn: sqlite3.Connection) -> int:
    """Fill an empty catalog with the demo items; returns how many were loaded (0 if not empty)."""
    return replace_items(conn, demo_items(), only_if_empty=True)
