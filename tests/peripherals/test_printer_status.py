"""DLE EOT 1..4: every documented bit, the fixed-bit check, invalid bytes and no answer."""

from __future__ import annotations

import pytest

from kiosk.events import DeviceState
from kiosk.peripherals.printer import status as st
from kiosk.peripherals.printer.status import PrinterCondition, decode, valid_reply

IDLE = b"\x12"  # 0001 0010: fixed bits only


def replies(**by_n: bytes | None) -> dict[int, bytes | None]:
    out: dict[int, bytes | None] = {1: IDLE, 2: IDLE, 3: IDLE, 4: IDLE}
    out.update({int(k[1:]): v for k, v in by_n.items()})
    return out


def test_query_bytes() -> None:
    assert [st.query(n) for n in (1, 2, 3, 4)] == [b"\x10\x04\x01", b"\x10\x04\x02", b"\x10\x04\x03", b"\x10\x04\x04"]
    with pytest.raises(ValueError):
        st.query(5)


@pytest.mark.parametrize("data, value", [
    (b"\x12", 0x12), (b"\x16", 0x16), (b"\x1e", 0x1E), (b"\x72", 0x72), (b"\x7e", 0x7E),
])
def test_valid_status_bytes(data: bytes, value: int) -> None:
    assert valid_reply(data) == value


@pytest.mark.parametrize("data", [
    None, b"", b"\x12\x12", b"\x00", b"\xff", b"\x13",  # bit 0 set
    b"\x10",  # bit 1 clear
    b"\x02",  # bit 4 clear
    b"\x92",  # bit 7 set
    b"\x11", b"\x13",  # XON / XOFF
    b"\x14",  # ASB first byte pattern 0xx1xx00
])
def test_invalid_replies_are_rejected(data: bytes | None) -> None:
    assert valid_reply(data) is None


def test_fixed_bit_pattern_is_0xx1xx10_for_all_256_bytes() -> None:
    valid = [v for v in range(256) if valid_reply(bytes([v])) is not None]
    expected = [v for v in range(256) if format(v, "08b")[0] == "0" and format(v, "08b")[3] == "1"
                and format(v, "08b")[6:] == "10"]
    assert valid == expected
    assert len(valid) == 16


def test_all_idle_is_ok() -> None:
    s = decode(replies())
    assert s.health == (st.Health.OK, "")
    assert s.online is True and s.can_print and s.complete
    assert s.device_state() == DeviceState("printer", "ok", "")


# (reply overrides, field, expected health, reason)
BITS = [
    ({"n1": b"\x16"}, "drawer_high", "ok", ""),
    ({"n1": b"\x1a"}, "offline", "fault", "offline"),
    ({"n2": b"\x16"}, "cover_open", "fault", "cover_open"),
    ({"n2": b"\x1a"}, "feed_button", "fault", "offline"),
    ({"n2": b"\x32"}, "paper_feed_stop", "fault", "paper_out"),
    ({"n2": b"\x52"}, "error", "fault", "printer_error"),
    ({"n3": b"\x16"}, "model_specific_error", "fault", "printer_error"),
    ({"n3": b"\x1a"}, "autocutter_error", "fault", "cutter_error"),
    ({"n3": b"\x32"}, "unrecoverable_error", "fault", "printer_error"),
    ({"n3": b"\x52"}, "auto_recoverable_error", "fault", "recoverable_error"),
    ({"n4": b"\x1e"}, "paper_near_end", "warning", "paper_near_end"),
    ({"n4": b"\x72"}, "paper_end", "fault", "paper_out"),
]


@pytest.mark.parametrize("override, field, state, reason", BITS)
def test_every_documented_bit(override: dict[str, bytes], field: str, state: str, reason: str) -> None:
    s = decode(replies(**override))
    assert getattr(s, field) is True
    others = [f for f in st.FLAG_NAMES if f not in (field, "online")]
    assert not any(getattr(s, f) for f in others), [f for f in others if getattr(s, f)]
    assert (s.state, s.reason) == (state, reason)
    assert s.can_print == (state != "fault")


def test_either_bit_of_a_pair_counts() -> None:
    # clones sometimes set only one of the two sensor bits
    assert decode(replies(n4=b"\x16")).paper_near_end
    assert decode(replies(n4=b"\x1a")).paper_near_end
    assert decode(replies(n4=b"\x32")).paper_end
    assert decode(replies(n4=b"\x52")).paper_end


def test_paper_out_as_a_real_printer_reports_it() -> None:
    cond = PrinterCondition(paper="out")
    s = decode({n: cond.reply(n) for n in (1, 2, 3, 4)})
    assert s.offline and s.paper_feed_stop and s.paper_end and s.paper_near_end
    assert s.reason == "paper_out"  # not merely "offline" or "near end"


def test_paper_out_beats_cover_open_and_offline() -> None:
    s = decode(replies(n1=b"\x1a", n2=b"\x36", n4=b"\x7e"))
    assert s.reason == "paper_out"
    assert s.cover_open and s.offline


def test_no_answer_is_a_fault_never_ok() -> None:
    s = decode({})
    assert s.health == (st.Health.FAULT, "no_answer")
    assert s.online is None and s.paper_end is None and s.paper_near_end is None
    assert not s.can_print
    assert s.device_state() == DeviceState("printer", "fault", "no_answer")
    assert decode({1: b"", 2: b"", 3: b"", 4: b""}).reason == "no_answer"


def test_partial_answer_is_unknown() -> None:
    s = decode({1: IDLE, 2: IDLE, 3: IDLE})  # paper sensor never answered
    assert s.paper_end is None
    assert s.health == (st.Health.FAULT, "no_answer")


def test_partial_answer_still_reports_a_known_fault() -> None:
    assert decode({1: IDLE, 2: b"\x16"}).reason == "cover_open"


def test_garbage_is_bad_answer_not_ok() -> None:
    s = decode({1: b"\xff", 2: b"\x00", 3: b"\x12\x12", 4: b"abc"})
    assert s.replies == (None, None, None, None)
    assert s.health == (st.Health.FAULT, "bad_answer")
    assert decode(replies(n4=b"\x00")).reason == "bad_answer"


def test_unreadable_transport_is_a_warning_not_ok() -> None:
    assert st.UNREADABLE.health == (st.Health.WARNING, "status_unknown")
    assert st.UNREADABLE.can_print  # file:/dummy: still take jobs


@pytest.mark.parametrize("cond, reason", [
    (PrinterCondition(), ""),
    (PrinterCondition(paper="near_end"), "paper_near_end"),
    (PrinterCondition(paper="out"), "paper_out"),
    (PrinterCondition(cover_open=True), "cover_open"),
    (PrinterCondition(feed_button=True), "offline"),
    (PrinterCondition(offline=True), "offline"),
    (PrinterCondition(autocutter_error=True), "cutter_error"),
    (PrinterCondition(unrecoverable_error=True), "printer_error"),
    (PrinterCondition(auto_recoverable_error=True), "recoverable_error"),
])
def test_simulated_condition_round_trips(cond: PrinterCondition, reason: str) -> None:
    raw = {n: cond.reply(n) for n in (1, 2, 3, 4)}
    assert all(valid_reply(b) is not None for b in raw.values())
    assert decode(raw).reason == reason


def test_json_names_every_flag() -> None:
    data = decode(replies(n4=b"\x1e")).to_json()
    assert data["state"] == "warning" and data["reason"] == "paper_near_end"
    assert data["replies"] == {"1": "0x12", "2": "0x12", "3": "0x12", "4": "0x1e"}
    assert set(st.FLAG_NAMES) <= set(data)
