"""The catalog: lookups, CSV checking and exchange (DESIGN 3.3), the demo catalog, ``kiosk catalog``."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kiosk import catalog
from kiosk.catalog import (
    COLUMNS,
    Catalog,
    CatalogFileError,
    Item,
    Unit,
    export_csv,
    import_csv,
    load_demo,
    parse_csv,
    read_csv,
    to_csv,
)
from kiosk.db import connect, transaction
from kiosk.errors import CatalogError, UserError
from kiosk.money import Money

ROOT = Path(__file__).resolve().parents[1]
DEMO_CSV = ROOT / "kiosk" / "data" / "catalog.csv"
EXAMPLE_CSV = ROOT / "examples" / "catalog.csv"
HEADER = ",".join(COLUMNS)
COLA = "6901234567892,,可乐 330ml 罐装,Cola 330ml can,3.50,each,350,15,0,0,0.13,240,drinks"
BANANA = ",4011,香蕉,Banana,6.98,kg,,,3,0,0.09,,produce"
BEEF = ",10001,酱牛肉,Braised beef,128.00,kg,,,0,0,0.13,,deli"


def gs1_check(body: str) -> int:
    """Independent GS1 mod-10: weights 3,1,3,... from the right of the body."""
    total = sum(int(d) * w for d, w in zip(reversed(body), [3, 1] * 10, strict=False))
    return -total % 10


def gtin_is_valid(code: str) -> bool:
    return code.isdigit() and len(code) in (8, 12, 13, 14) and int(code[-1]) == gs1_check(code[:-1])


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


@pytest.fixture
def conn(tmp_path: Path):
    c = connect(tmp_path / "kiosk.db")
    yield c
    c.close()


@pytest.fixture
def demo(conn):
    load_demo(conn)
    return Catalog(conn)


def problems_of(data: bytes) -> list[catalog.Problem]:
    with pytest.raises(CatalogFileError) as info:
        parse_csv(data, "catalog.csv")
    return list(info.value.problems)


# --- the demo catalog ---------------------------------------------------------------------------

def test_demo_catalog_is_big_valid_and_byte_stable():
    items = catalog.demo_items()
    assert len(items) >= 150
    assert to_csv(items).encode("utf-8") == DEMO_CSV.read_bytes()  # written in the export format
    raw_gtins = [line.split(",")[0] for line in DEMO_CSV.read_text(encoding="utf-8").splitlines()[1:]]
    assert all(gtin_is_valid(g) for g in raw_gtins if g)
    for item in items:
        assert item.gtin is None or (len(item.gtin) == 14 and gtin_is_valid(item.gtin))
        assert item.name_zh and item.name_en and item.category
        assert Decimal(0) <= item.tax_rate <= Decimal(1)


def test_demo_catalog_looks_like_a_chinese_supermarket(demo):
    items = demo.all()
    cola = demo.by_gtin("6901234567892")
    assert cola is not None and cola.price == Money.parse("3.50") and cola.unit is Unit.EACH
    chinese = [i for i in items if i.gtin and i.gtin[1:4] in {f"69{d}" for d in range(10)}]
    assert len(chinese) >= 120
    produce = [i for i in items if i.plu and not i.gtin and i.unit is Unit.KG and i.category == "produce"]
    assert len(produce) >= 20
    assert {"4011", "4131"} <= {i.plu for i in produce}
    assert {i.category for i in items} >= {"drinks", "dairy", "snacks", "bakery", "household", "personal care",
                                           "frozen", "alcohol", "tobacco", "produce", "deli"}
    restricted = {i.category for i in items if i.age_min == 18}
    assert restricted == {"alcohol", "tobacco"}
    assert all(i.age_min == 18 for i in items if i.category in ("alcohol", "tobacco"))
    assert {i.tax_rate for i in items} >= {Decimal("0.13"), Decimal("0.09")}
    counter = [i for i in items if i.plu and len(i.plu) == 5 and i.plu.startswith("1")]
    assert counter and all(i.unit is Unit.KG and i.gtin is None for i in counter)
    barcoded = [i for i in items if i.gtin]
    assert all(i.weight_g and i.weight_tol_g for i in barcoded)  # the bagging scale knows them
    water = next(i for i in items if i.name_en == "Natural spring water 550ml")
    milk = next(i for i in items if i.name_en == "Fresh milk 1L")
    assert 550 < water.weight_g < 600 and 1030 <= milk.weight_g <= 1100


def test_example_catalog_is_small_valid_and_agrees_with_the_demo():
    items = read_csv(EXAMPLE_CSV)
    assert 10 <= len(items) <= 25
    demo = set(catalog.demo_items())
    assert all(i in demo for i in items)
    assert any(i.gtin == "06901234567892" for i in items)
    assert to_csv(items).encode("utf-8") == EXAMPLE_CSV.read_bytes()


def test_load_demo_fills_only_an_empty_catalog(conn, tmp_path):
    assert load_demo(conn) >= 150
    import_csv_bytes(conn, csv_bytes(COLA), tmp_path)
    assert load_demo(conn) == 0
    assert Catalog(conn).count() == 1


def import_csv_bytes(conn, data: bytes, folder: Path) -> int:
    path = folder / "import.csv"
    path.write_bytes(data)
    return import_csv(conn, path)


# --- round trips --------------------------------------------------------------------------------

def test_import_export_round_trip_is_byte_stable(conn, tmp_path):
    assert import_csv(conn, DEMO_CSV) == len(catalog.demo_items())
    out = tmp_path / "out.csv"
    assert export_csv(conn, out) == Catalog(conn).count()
    assert out.read_bytes() == DEMO_CSV.read_bytes()
    other = connect(tmp_path / "other.db")
    import_csv(other, out)
    assert Catalog(other).all() == Catalog(conn).all()
    again = tmp_path / "again.csv"
    export_csv(other, again)
    assert again.read_bytes() == out.read_bytes()
    other.close()


def test_gtin_forms_are_normalised_and_exported_in_their_usual_form(conn, tmp_path):
    rows = ["96385074,,口香糖,Gum,2.50,each,16,5,0,0,0.13,,snacks",  # GTIN-8
            "012345678905,,进口饮料,Imported drink,9.90,each,280,10,0,0,0.13,,drinks",  # UPC-A
            "00614141999996,,纸箱,Case,1.00,each,,,0,0,0.13,,household",  # GTIN-14
            COLA]
    items = parse_csv(csv_bytes(*rows))
    assert [i.gtin for i in items] == ["00000096385074", "00012345678905", "00614141999996", "06901234567892"]
    import_csv_bytes(conn, csv_bytes(*rows), tmp_path)
    out = tmp_path / "out.csv"
    export_csv(conn, out)
    first_column = [line.split(",")[0] for line in out.read_text(encoding="utf-8").splitlines()[1:]]
    assert first_column == ["96385074", "0012345678905", "0614141999996", "6901234567892"]
    assert read_csv(out) == items


def test_bom_crlf_quotes_and_blank_lines_are_tolerated(tmp_path):
    text = (HEADER + "\r\n" + COLA + "\r\n\r\n"
            + '6901234001020,," 可乐, 大瓶 ","Cola ""big"", 2L",7.50,each,2090,60,0,0,0.13,,drinks\r\n')
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    items = read_csv(path)
    assert [i.name_zh for i in items] == ["可乐 330ml 罐装", "可乐, 大瓶"]
    assert items[1].name_en == 'Cola "big", 2L'
    assert parse_csv(to_csv(items).encode()) == items


def test_export_with_bom_for_excel_reimports(conn, tmp_path):
    load_demo(conn)
    out = tmp_path / "excel.csv"
    export_csv(conn, out, bom=True)
    assert out.read_bytes().startswith(b"\xef\xbb\xbf" + b"gtin,")
    assert read_csv(out) == Catalog(conn).all()


def _names():
    chars = st.characters(blacklist_categories=("Cc", "Cs"))
    return st.text(chars, min_size=1, max_size=20).map(str.strip).filter(bool)


@st.composite
def _items(draw):
    body = draw(st.text("0123456789", min_size=12, max_size=12))
    gtin = draw(st.none() | st.just("0" + body + str(gs1_check(body))))
    plu = draw(st.none() | st.integers(1, 99999).map(str)) if gtin else draw(st.integers(1, 99999).map(str))
    opt = st.none() | st.integers(0, 100_000)
    return Item(gtin=gtin, plu=plu, name_zh=draw(_names()), name_en=draw(_names()),
                price=Money(draw(st.integers(0, 9_999_999))), unit=draw(st.sampled_from(Unit)),
                weight_g=draw(opt), weight_tol_g=draw(opt), tare_g=draw(st.integers(0, 1000)),
                age_min=draw(st.integers(0, 99)),
                tax_rate=draw(st.decimals(min_value=0, max_value=1, places=4)),
                stock=draw(st.none() | st.integers(-1000, 100_000)),
                category=draw(st.just("") | _names()))


@settings(max_examples=60, deadline=None)
@given(st.lists(_items(), min_size=1, max_size=8))
def test_any_valid_catalog_survives_csv(items):
    gtins = [i.gtin for i in items if i.gtin]
    plus = [i.plu for i in items if i.plu]
    assume(len(set(gtins)) == len(gtins) and len(set(plus)) == len(plus))
    assert parse_csv(to_csv(items).encode("utf-8")) == items


# --- bad files: every problem named by line and column; nothing changes --------------------------

BAD_FILES = {
    "unknown column": (csv_bytes(COLA, header=HEADER.replace("price", "Price")), 1, "Price", "not a catalog column"),
    "missing column": (csv_bytes(COLA.rsplit(",", 1)[0], header=HEADER.rsplit(",", 1)[0]), 1, "category",
                       "missing from the header"),
    "bad check digit": (csv_bytes(BANANA, COLA.replace("6901234567892", "6901234567893")), 3, "gtin",
                        "wrong check digit"),
    "3-decimal price": (csv_bytes(COLA, BANANA.replace("6.98", "3.999")), 3, "price", "'3.999' has more than 2 decimals"),
    "negative price": (csv_bytes(COLA.replace("3.50", "-3.50")), 2, "price", "negative"),
    "price with a currency sign": (csv_bytes(COLA.replace("3.50", "¥3.50")), 2, "price", "not a price"),
    "bad unit": (csv_bytes(COLA.replace(",each,", ",box,")), 2, "unit", "'box' is not a unit"),
    "duplicate gtin": (csv_bytes(COLA, BANANA, COLA.replace("可乐", "汽水")), 4, "gtin", "already used on line 2"),
    "duplicate gtin in another form": (csv_bytes(COLA, "0" + COLA.replace(",240,", ",1,")), 3, "gtin",
                                       "already used on line 2"),
    "duplicate plu": (csv_bytes(BANANA, BANANA.replace("4011", "04011")), 3, "plu", "already used on line 2"),
    "no gtin and no plu": (csv_bytes(BANANA.replace("4011", "")), 2, "gtin", "both empty"),
    "empty name": (csv_bytes(COLA.replace("Cola 330ml can", "")), 2, "name_en", "empty"),
    "control character in a name": (csv_bytes(COLA.replace("Cola", "Co\tla")), 2, "name_en", "control character"),
    "fractional weight": (csv_bytes(COLA.replace(",350,", ",350.5,")), 2, "weight_g", "not a whole number"),
    "negative tolerance": (csv_bytes(COLA.replace(",15,", ",-15,")), 2, "weight_tol_g", "below 0"),
    "age out of range": (csv_bytes(COLA.replace(",0,0,0.13,", ",0,100,0.13,")), 2, "age_min", "above 99"),
    "tax as a percentage": (csv_bytes(COLA.replace("0.13", "13")), 2, "tax_rate", "write 13% as 0.13"),
    "tax with a percent sign": (csv_bytes(COLA.replace("0.13", "13%")), 2, "tax_rate", "not a tax rate"),
    "empty tax rate": (csv_bytes(COLA.replace("0.13", "")), 2, "tax_rate", "empty"),
    "fractional stock": (csv_bytes(COLA.replace(",240,", ",2.5,")), 2, "stock", "not a whole number"),
    "plu with letters": (csv_bytes(BANANA.replace("4011", "A4011")), 2, "plu", "not a PLU"),
    "spreadsheet number": (csv_bytes(COLA.replace("6901234567892", "6.90123E+12")), 2, "gtin", "scientific notation"),
    "non-UTF-8 (GBK)": (csv_bytes(COLA).replace("可乐 330ml 罐装".encode(), "可乐 330ml 罐装".encode("gbk")), 2, "name_zh",
                        "not UTF-8"),
    "too few values": (csv_bytes(BANANA, COLA.rsplit(",", 1)[0]), 3, None, "12 values but the header has 13"),
    "empty file": (b"", 1, None, "the file is empty"),
    "blank file": (b"\n \n", 1, None, "the file is empty"),
    "header only": (csv_bytes(), 2, None, "no items"),
    "semicolons": (csv_bytes(COLA.replace(",", ";"), header=HEADER.replace(",", ";")), 1, None, "';'"),
    "stray quote": (csv_bytes(COLA, COLA.replace("567892", "001020").replace("可乐 330ml", '"可乐" 2L')), 3, None,
                    "not valid CSV"),
}


@pytest.mark.parametrize("case", list(BAD_FILES), ids=list(BAD_FILES))
def test_bad_file_names_line_and_column_and_changes_nothing(case, conn, tmp_path):
    data, line, column, text = BAD_FILES[case]
    problems = problems_of(data)
    assert any(p.line == line and p.column == column and text in p.message for p in problems), problems
    with pytest.raises(CatalogFileError) as info:
        parse_csv(data, "catalog.csv")
    where = f"catalog.csv line {line}" + (f", column {column}" if column else "")
    assert where in str(info.value)
    assert isinstance(info.value, CatalogError) and isinstance(info.value, UserError)
    assert isinstance(info.value, ValueError)

    load_demo(conn)
    before = Catalog(conn).all()
    path = tmp_path / "catalog.csv"
    path.write_bytes(data)
    with pytest.raises(CatalogFileError):
        import_csv(conn, path)
    assert Catalog(conn).all() == before


def test_every_problem_is_listed_with_a_cap(tmp_path):
    rows = [COLA.replace("6901234567892", f"69012345678{i:02d}").replace("3.50", "3.505") for i in range(30)]
    problems = problems_of(csv_bytes(*rows))
    assert len(problems) >= 30  # each row: price, and most: the check digit
    assert all(p.column in ("gtin", "price") for p in problems)
    message = str(CatalogFileError("catalog.csv", problems))
    assert message.startswith(f"catalog.csv has {len(problems)} problems:")
    assert message.count("catalog.csv line") == 20
    assert message.endswith(f"and {len(problems) - 20} more")


def test_a_record_spanning_lines_keeps_later_line_numbers_right():
    data = csv_bytes(COLA.replace("Cola 330ml can", '"Cola\n330ml can"'), BANANA.replace("kg", "KG"))
    problems = problems_of(data)
    assert [(p.line, p.column) for p in problems] == [(2, "name_en"), (4, "unit")]


def test_first_non_utf8_cell_gets_the_advice_once():
    gbk = csv_bytes(COLA, BANANA).replace("可乐".encode(), "可乐".encode("gbk")).replace("香蕉".encode(), "香蕉".encode("gbk"))
    problems = problems_of(gbk)
    assert [(p.line, p.column) for p in problems] == [(2, "name_zh"), (3, "name_zh")]
    assert "GBK" in problems[0].message and "CSV UTF-8" in problems[0].message
    assert problems[1].message == "is not UTF-8 text"


def test_missing_file_and_folder_are_user_errors(tmp_path):
    with pytest.raises(CatalogError, match="does not exist"):
        read_csv(tmp_path / "nope.csv")
    with pytest.raises(CatalogError, match="is a folder"):
        read_csv(tmp_path)


def test_export_into_a_missing_folder_is_a_user_error(demo, tmp_path):
    with pytest.raises(CatalogError, match="cannot write"):
        export_csv(demo.conn, tmp_path / "no" / "such" / "out.csv")


# --- lookups and edits --------------------------------------------------------------------------

def test_by_gtin_accepts_every_gtin_length(demo):
    for code in ("6901234567892", "06901234567892"):
        assert demo.by_gtin(code).name_en == "Cola 330ml can"
    assert demo.by_gtin("012345678905").gtin == "00012345678905"  # UPC-A as 12 digits
    assert demo.by_gtin("0012345678905").gtin == "00012345678905"  # ... and as zbar reports it
    assert demo.by_gtin("6901234567890") is None
    assert demo.by_gtin("(01)06901234567892") is None
    assert demo.by_gtin("") is None


def test_by_plu_ignores_leading_zeros_from_scale_labels(demo):
    assert demo.by_plu("4011").name_en == "Banana"
    assert demo.by_plu("04011").name_en == "Banana"
    assert demo.by_plu("10001").name_en == "Braised beef"
    assert demo.by_plu("99999") is None
    assert demo.by_plu("") is None


def test_produce_lists_loose_produce_only_sorted(demo):
    produce = demo.produce()
    plus = {i.plu for i in produce}
    assert len(produce) >= 20 and {"4011", "94011", "4131", "4078"} <= plus
    assert "10001" not in plus  # counter goods come with a scale label
    assert all(i.gtin is None for i in produce)
    assert produce == sorted(produce, key=lambda i: (i.category, i.name_zh, i.plu))
    english = demo.produce("en")
    assert [i.name_en for i in english] == sorted(i.name_en for i in english)


def test_search_in_both_languages(demo):
    assert demo.search("香蕉")[0].plu == "4011"
    assert {i.plu for i in demo.search("banana", "en")} == {"4011", "94011"}
    assert demo.search("BANANA", "en") == demo.search("banana", "en")
    colas = demo.search("cola 330", "en")
    assert [i.gtin for i in colas][:1] == ["06901234567892"]
    assert all("330" in i.name_en and "cola" in i.name_en.lower() for i in colas)
    assert demo.search("4011")[0].plu == "4011"
    assert demo.search("6901234567892")[0].name_en == "Cola 330ml can"
    percent = demo.search("%")  # a literal %, not a wildcard
    assert percent and all("%" in i.name_zh + i.name_en for i in percent)
    assert demo.search("_") == []
    assert demo.search("   ") == []
    assert len(demo.search("ml", "en")) == catalog.SEARCH_LIMIT
    starts = demo.search("可乐")
    assert starts[0].name_zh.startswith("可乐")


def test_count_all_and_catalog_order(conn, tmp_path):
    import_csv_bytes(conn, csv_bytes(COLA, BANANA, BEEF), tmp_path)
    store = Catalog(conn)
    assert store.count() == 3
    assert [i.name_en for i in store.all()] == ["Cola 330ml can", "Banana", "Braised beef"]


def test_set_price_by_gtin_or_plu(demo):
    assert demo.set_price("6901234567892", Money.parse("3.80")).price == Money(380)
    assert demo.by_gtin("06901234567892").price == Money(380)
    assert demo.set_price("4011", Money.parse("5.98")).price == Money(598)
    with pytest.raises(CatalogError, match="no item"):
        demo.set_price("6901234567890", Money(100))
    with pytest.raises(CatalogError):
        demo.set_price("4011", Money(-1))


def test_adjust_stock_counts_and_untracked_items(demo):
    before = demo.by_gtin("6901234567892").stock
    assert demo.adjust_stock("6901234567892", -3) == before - 3
    assert demo.adjust_stock("06901234567892", 1) == before - 2
    assert demo.adjust_stock("4011", -1) is None  # produce stock is not tracked
    assert demo.by_plu("4011").stock is None
    with pytest.raises(CatalogError):
        demo.adjust_stock("123", 1)


def test_edits_join_the_callers_transaction(demo):
    before = demo.by_gtin("6901234567892")
    with pytest.raises(RuntimeError), transaction(demo.conn):
        demo.adjust_stock("6901234567892", -5)
        demo.set_price("6901234567892", Money(1))
        raise RuntimeError("payment failed")
    assert demo.by_gtin("6901234567892") == before


def test_import_replaces_the_whole_catalog(conn, tmp_path):
    load_demo(conn)
    assert import_csv_bytes(conn, csv_bytes(BANANA, BEEF), tmp_path) == 2
    store = Catalog(conn)
    assert store.count() == 2 and store.by_gtin("6901234567892") is None


# --- the command line ---------------------------------------------------------------------------

def kiosk(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KIOSK_CONFIG": ""}
    env.pop("KIOSK_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "kiosk", "catalog", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_import_export_round_trip(tmp_path):
    db = tmp_path / "kiosk.db"
    done = kiosk("import", str(DEMO_CSV), "--db", str(db), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"imported {len(catalog.demo_items())} items into {db}"
    out = tmp_path / "out.csv"
    done = kiosk("export", str(out), "--db", str(db), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == DEMO_CSV.read_bytes()
    listed = kiosk("list", "--db", str(db), "--json", "香蕉", cwd=tmp_path)
    assert listed.returncode == 0 and '"plu":"4011"' in listed.stdout.splitlines()[0]


def test_cli_bad_file_exits_2_with_line_numbers_and_keeps_the_catalog(tmp_path):
    db = tmp_path / "kiosk.db"
    assert kiosk("import", str(EXAMPLE_CSV), "--db", str(db), cwd=tmp_path).returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(COLA, BANANA.replace("6.98", "6.985")))
    done = kiosk("import", str(bad), "--db", str(db), cwd=tmp_path)
    assert done.returncode == 2
    assert "bad.csv line 3, column price: '6.985' has more than 2 decimals" in done.stderr
    assert "nothing was imported" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    conn = connect(db)
    assert Catalog(conn).all() == read_csv(EXAMPLE_CSV)
    conn.close()


def test_cli_bad_file_does_not_create_a_database(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"")
    done = kiosk("import", str(bad), "--db", str(tmp_path / "new.db"), cwd=tmp_path)
    assert done.returncode == 2 and "bad.csv line 1" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "new.db").exists()


def test_cli_uses_the_config_db_path_unless_db_is_given(tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[kiosk]\ndb = "{tmp_path / "from-config.db"}"\n', encoding="utf-8")
    done = kiosk("import", str(EXAMPLE_CSV), "--config", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert str(tmp_path / "from-config.db") in done.stdout
    done = kiosk("import", str(EXAMPLE_CSV), "--config", str(config), "--db", str(tmp_path / "x.db"), cwd=tmp_path)
    assert done.returncode == 0 and (tmp_path / "x.db").exists()


def test_cli_check_help_and_missing_things(tmp_path):
    done = kiosk("check", str(EXAMPLE_CSV), cwd=tmp_path)
    assert done.returncode == 0 and "no problems" in done.stdout
    for action in ("import", "export", "check", "list"):
        helped = kiosk(action, "--help", cwd=tmp_path)
        assert helped.returncode == 0 and "usage: kiosk catalog" in helped.stdout
    assert kiosk(cwd=tmp_path).returncode == 2
    for args in (("import", str(tmp_path / "none.csv"), "--db", str(tmp_path / "k.db")),
                 ("export", str(tmp_path / "o.csv"), "--db", str(tmp_path / "none.db"))):
        done = kiosk(*args, cwd=tmp_path)
        assert done.returncode == 2 and "does not exist" in done.stderr and "Traceback" not in done.stderr


def test_a_failed_replace_rolls_back_to_the_old_catalog(demo):
    before = demo.all()
    cola = demo.by_gtin("6901234567892")
    with pytest.raises(CatalogError, match="not stored"):
        catalog.replace_items(demo.conn, [cola, cola])  # breaks UNIQUE halfway through the insert
    assert demo.all() == before
