"""Pure topic and payload functions: built right, and nothing a peer sends can crash them."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.money import Money
from kiosk.telemetry import payloads, topics
from kiosk.telemetry.payloads import PayloadError, PriceChange
from kiosk.telemetry.topics import KioskTopics


def test_topic_tree() -> None:
    t = KioskTopics("kiosk-0001")
    assert t.status == "kiosk/v1/kiosk-0001/up/status"
    assert t.birth == "kiosk/v1/kiosk-0001/up/birth"
    assert t.health == "kiosk/v1/kiosk-0001/up/health"
    assert t.outbox("sales") == "kiosk/v1/kiosk-0001/up/sales"
    assert t.alert("paper_low") == "kiosk/v1/kiosk-0001/up/alerts/paper_low"
    assert t.config_reported == "kiosk/v1/kiosk-0001/up/config/reported"
    assert t.command_response("ops") == "kiosk/v1/kiosk-0001/up/cmdres/ops"
    assert t.ack == "kiosk/v1/kiosk-0001/down/ack"
    assert t.command("lock") == "kiosk/v1/kiosk-0001/down/cmd/lock"
    assert t.commands == "kiosk/v1/kiosk-0001/down/cmd/+"
    assert t.config_desired == "kiosk/v1/kiosk-0001/down/config/desired"
    assert topics.HOST_STATE == "fleet/v1/host/STATE" and topics.ALL_UP == "kiosk/v1/+/up/#"


@pytest.mark.parametrize("bad", ["", "a/b", "+", "#", "kiosk 1", "-lead", "x" * 65, "电"])
def test_ids_that_break_topics_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="cannot be used in MQTT topics"):
        KioskTopics(bad)


@pytest.mark.parametrize("bad", ["Paper", "a/b", "+", "", "x y"])
def test_alert_and_command_names_are_checked(bad: str) -> None:
    with pytest.raises(ValueError):
        KioskTopics("k1").alert(bad)


def test_owns_up_only_for_its_own_tree() -> None:
    t = KioskTopics("k1")
    assert t.owns_up("kiosk/v1/k1/up/cmdres/ops")
    assert not t.owns_up("kiosk/v1/k2/up/cmdres/ops")
    assert not t.owns_up("kiosk/v1/k1/down/ack")
    assert not t.owns_up("kiosk/v1/k1/up/#")
    assert not t.owns_up("kiosk/v1/k10/up/x".replace("k10", "k1x"))


def test_parse() -> None:
    p = topics.parse("kiosk/v1/k-7/up/alerts/paper_low")
    assert (p.kiosk_id, p.direction, p.path, p.kind) == ("k-7", "up", ("alerts", "paper_low"), "alerts")
    for bad in ["kiosk/v1/k/side/x", "kiosk/v2/k/up/x", "kiosk/v1/k/up", "kiosk/v1/k/up//x", "other"]:
        with pytest.raises(ValueError):
            topics.parse(bad)


@given(st.text(max_size=80))
def test_parse_never_crashes(text: str) -> None:
    try:
        topics.parse(text)
    except ValueError:
        pass


# --- payloads --------------------------------------------------------------------------------

def test_outbox_message_adds_delivery_fields_without_losing_the_sale() -> None:
    body = json.loads(payloads.outbox_message({"event": "sale.completed", "total": "3.50", "msg_id": "old"},
                                              msg_id="m1", seq=7, kiosk_id="k1", created_at="2026-01-01T00:00:00+00:00",
                                              is_historical=True))
    assert body == {"event": "sale.completed", "total": "3.50", "msg_id": "m1", "seq": 7, "kiosk_id": "k1",
                    "ts": "2026-01-01T00:00:00+00:00", "is_historical": True}
    kept = json.loads(payloads.outbox_message({"kiosk_id": "k1", "ts": "sale-time"}, msg_id="m", seq=1,
                                              kiosk_id="k1", created_at="row-time", is_historical=False))
    assert kept["ts"] == "sale-time"


def test_ack_round_trip_and_bad_acks() -> None:
    assert payloads.parse_ack(payloads.ack(["a", "b"])) == ["a", "b"]
    for bad in [b"", b"{", b"[]", b'{"acked": "a"}', b'{"acked": [1]}', b"\xff\xfe"]:
        with pytest.raises(PayloadError):
            payloads.parse_ack(bad)
    with pytest.raises(PayloadError, match="at most"):
        payloads.parse_ack(payloads.ack(["x"] * (payloads.MAX_ACK_IDS + 1)))


def test_host_state() -> None:
    assert payloads.parse_host_state(payloads.host_state(True, 5)) == payloads.HostState(True, 5)
    for bad in [b'{"online": 1, "timestamp": 5}', b'{"online": true}', b'{"online": true, "timestamp": true}']:
        with pytest.raises(PayloadError):
            payloads.parse_host_state(bad)


def test_outbox_message_validation_for_the_fleet() -> None:
    assert payloads.parse_outbox_message(b'{"msg_id": "m", "seq": 3}')["seq"] == 3
    for bad in [b'{"seq": 3}', b'{"msg_id": 5}', b'{"msg_id": "m", "seq": "3"}', b'{"msg_id": ""}', b"null"]:
        with pytest.raises(PayloadError):
            payloads.parse_outbox_message(bad)


def test_alert_payload_keeps_identity_fields() -> None:
    body = json.loads(payloads.alert("paper_low", {"alert": "spoof", "message": "low", "kiosk_id": "x"},
                                     kiosk_id="k1", since="t"))
    assert body == {"severity": "warning", "message": "low", "alert": "paper_low", "kiosk_id": "k1",
                    "since": "t", "active": True}


def test_commands_parse() -> None:
    assert payloads.parse_command("lock", b'{"by": "ops"}').args == {"reason": "remote lock", "by": "ops"}
    assert payloads.parse_command("rebirth", b"").args == {}
    cmd = payloads.parse_command("unlock", b'{"by": " ops ", "correlation_id": "c-9"}')
    assert cmd.args == {"by": "ops"} and cmd.correlation_id == "c-9"
    prices = payloads.parse_command("set_prices", json.dumps({"prices": [
        {"gtin": "06901234567892", "price": "3.80"}, {"plu": "4011", "price": 6}]}).encode()).args["prices"]
    assert prices == [PriceChange("06901234567892", None, Money(380)), PriceChange(None, "4011", Money(600))]
    assert payloads.parse_command("log_tail", b"{}").args == {"lines": 100}


@pytest.mark.parametrize("name,payload,fragment", [
    ("reboot_now", b"{}", "unknown command"),
    ("lock", b"{", "not valid UTF-8 JSON"),
    ("lock", b"[1]", "must be a JSON object"),
    ("lock", b"{}", "missing 'by'"),
    ("lock", b'{"by": ""}', "non-empty"),
    ("lock", b'{"by": "x", "force": true}', "unknown field 'force'"),
    ("rebirth", b'{"x": 1}', "allowed: none"),
    ("set_prices", b"{}", "non-empty list"),
    ("set_prices", b'{"prices": [{"gtin": "123", "price": "1"}]}', "8 to 14 digits"),
    ("set_prices", b'{"prices": [{"gtin": "06901234567892", "plu": "1", "price": "1"}]}', "exactly one"),
    ("set_prices", b'{"prices": [{"plu": "4011", "price": "1.005"}]}', "more than 2 decimals"),
    ("set_prices", b'{"prices": [{"plu": "4011", "price": 1.5}]}', "as text"),
    ("set_prices", b'{"prices": [{"plu": "4011", "price": "-1"}]}', "negative"),
    ("set_prices", b'{"prices": [{"plu": "4011"}]}', "needs a price"),
    ("set_prices", b'{"prices": [{"plu": "4011", "price": "1"}, {"plu": "4011", "price": "2"}]}', "twice"),
    ("log_tail", b'{"lines": 0}', "from 1 to"),
    ("log_tail", b'{"lines": true}', "from 1 to"),
    ("unlock", b'{"by": "x", "correlation_id": 5}', "correlation_id"),
])
def test_bad_commands(name: str, payload: bytes, fragment: str) -> None:
    with pytest.raises(PayloadError, match=fragment) as info:
        payloads.parse_command(name, payload)
    assert info.value.code == ("unknown_command" if name == "reboot_now" else "bad_payload")


@given(st.sampled_from(sorted(payloads.COMMANDS)), st.binary(max_size=200))
def test_command_parser_never_crashes(name: str, payload: bytes) -> None:
    try:
        payloads.parse_command(name, payload)
    except PayloadError:
        pass


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20))
def test_json_shaped_garbage_never_crashes_any_parser(value: object) -> None:
    raw = json.dumps(value).encode()
    for parse in (payloads.parse_ack, payloads.parse_host_state, payloads.parse_desired,
                  payloads.parse_outbox_message):
        try:
            parse(raw)
        except PayloadError:
            pass
    for name in payloads.COMMANDS:
        try:
            payloads.parse_command(name, raw)
        except PayloadError:
            pass


def test_desired_config() -> None:
    d = payloads.parse_desired(b'{"version": 3, "config": {"security": {"enabled": false}}}')
    assert d.version == 3 and d.config == {"security": {"enabled": False}}
    for bad in [b'{"config": {}}', b'{"version": -1}', b'{"version": true}', b'{"version": 1, "config": []}',
                b'{"version": 1, "extra": 1}']:
        with pytest.raises(PayloadError):
            payloads.parse_desired(bad)


def test_command_response_shapes() -> None:
    ok = json.loads(payloads.command_response("lock", ok=True, ts="t", result={"locked": True}, correlation_id="c"))
    assert ok == {"command": "lock", "ok": True, "ts": "t", "result": {"locked": True}, "correlation_id": "c"}
    err = json.loads(payloads.command_response("x", ok=False, ts="t", code="unknown_command", message="m"))
    assert err == {"command": "x", "ok": False, "ts": "t", "error": {"code": "unknown_command", "message": "m"}}
