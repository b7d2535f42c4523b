"""Telemetry end to end against a real Mosquitto and the acknowledging ingest."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet.ingest import Ingest
from kiosk.config import Config
from kiosk.db import connect
from kiosk.outbox import Outbox
from kiosk.store import SaleStore
from kiosk.telemetry import PublisherOptions, Telemetry, TelemetryOptions
from kiosk.telemetry.demo import DemoControl, demo_sale
from tests.telemetry.broker import Mosquitto, Pki
from tests.telemetry.conftest import FleetProbe, kiosk_config, retained, wait_until

K1 = "kiosk/v1/kiosk-0001"
FAST = TelemetryOptions(publisher=PublisherOptions(ack_timeout_s=2.0), reconnect_min_s=0.1,
                        reconnect_max_s=0.5, housekeeping_s=0.2)

Factory = Callable[..., tuple[Telemetry, DemoControl]]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Factory]:
    running: list[Telemetry] = []

    def factory(config: Config, db: Path | None = None, options: TelemetryOptions = FAST,
                devices: Callable[[], dict[str, Any]] | None = None) -> tuple[Telemetry, DemoControl]:
        control = DemoControl()
        telemetry = Telemetry(config, db or tmp_path / "kiosk.db", control,
                              devices or (lambda: {"printer": {"state": "ok"}, "camera": {"fps": 29.7}}),
                              options=options)
        running.append(telemetry)
        telemetry.start()
        return telemetry, control

    yield factory
    for telemetry in running:
        telemetry.stop(0)


def commit_sales(db: Path, count: int, telemetry: Telemetry | None = None, *, start: int = 1,
                 every_s: float = 0.0, on_sale: Callable[[int], None] | None = None) -> list[str]:
    conn = connect(db)
    store = SaleStore(conn, kiosk_id="kiosk-0001")
    ids = []
    for n in range(start, start + count):
        sale = demo_sale("kiosk-0001", n)
        assert store.commit_sale(sale)
        ids.append(sale.sale_id)
        if telemetry is not None:
            telemetry.notify_outbox()
        if on_sale is not None:
            on_sale(n)
        if every_s:
            time.sleep(every_s)
    conn.close()
    return ids


def depth(db: Path) -> int:
    conn = connect(db)
    try:
        return Outbox(conn).depth()
    finally:
        conn.close()


def body(message: Any) -> dict[str, Any]:
    return json.loads(message.payload)


# --- presence and health ------------------------------------------------------------------------

def test_birth_status_and_health(broker: Mosquitto, fleet: FleetProbe, make: Factory, tmp_path: Path) -> None:
    config = kiosk_config(broker.url, health_interval_s=1)
    telemetry, _ = make(config)
    assert telemetry.wait_online(5), telemetry.status()["last_error"]
    birth = body(fleet.wait_for(f"{K1}/up/birth"))
    assert birth["bdSeq"] == 0 and birth["kiosk_id"] == "kiosk-0001" and birth["mqtt_protocol"] == "5"
    assert "lock" in birth["capabilities"]["commands"] and birth["firmware"]
    assert fleet.wait_for(f"{K1}/up/status").payload == b"online"
    health = body(fleet.wait_for(f"{K1}/up/health"))
    assert health["outbox"] == {"depth": 0, "oldest_age_s": None}
    assert health["devices"]["camera"] == {"fps": 29.7}
    for key in ("cpu_temp_c", "load", "memory", "disk", "uptime_s", "firmware", "last_sale_at", "mqtt"):
        assert key in health
    assert health["mqtt"]["publish_denials_detectable"] is True
    assert telemetry.stop(1) == 0
    fleet.wait_for(f"{K1}/up/status", lambda m: m.payload == b"offline")
    assert retained(broker.port, f"{K1}/up/status") == b"offline"

    again, _ = make(config)  # same database: the next session's bdSeq
    assert again.wait_online(5)
    assert body(fleet.wait_for(f"{K1}/up/birth", lambda m: body(m)["bdSeq"] == 1))["bdSeq"] == 1


def test_bad_kiosk_id_is_a_config_error(broker: Mosquitto, tmp_path: Path) -> None:
    from kiosk.errors import ConfigError
    with pytest.raises(ConfigError, match="kiosk.id"):
        Telemetry(kiosk_config(broker.url, kiosk_id="kiosk/+"), tmp_path / "k.db", DemoControl(), dict)


# --- the outbox ----------------------------------------------------------------------------------

def test_broker_stopped_during_100_sales_every_sale_arrives_once_in_order(
        broker: Mosquitto, ingest: Ingest, make: Factory, tmp_path: Path) -> None:
    db = tmp_path / "kiosk.db"
    telemetry, _ = make(kiosk_config(broker.url), db)
    assert telemetry.wait_online(5)
    outage = threading.Event()

    def on_sale(n: int) -> None:
        if n == 30:
            broker.stop()
            outage.set()
        if n == 70:
            broker.start()

    ids = commit_sales(db, 100, telemetry, every_s=0.02, on_sale=on_sale)
    assert outage.is_set()
    assert wait_until(lambda: depth(db) == 0, 30), (depth(db), telemetry.status(), ingest.stats)
    sales = ingest.store_db.messages("kiosk-0001", "sales")
    assert [m["sale_id"] for m in sales] == ids  # each once, in the order sold
    seqs = [m["seq"] for m in sales]
    assert seqs == sorted(seqs) and len(set(seqs)) == 100
    assert any(m["is_historical"] for m in sales)  # written while the broker was down
    assert all(m["kiosk_id"] == "kiosk-0001" and m["msg_id"] and m["ts"] for m in sales)


def test_stop_waits_for_acks_then_publishes_offline(broker: Mosquitto, ingest: Ingest, fleet: FleetProbe,
                                                    make: Factory, tmp_path: Path) -> None:
    db = tmp_path / "kiosk.db"
    telemetry, _ = make(kiosk_config(broker.url), db)
    assert telemetry.wait_online(5)
    commit_sales(db, 5, telemetry)
    assert telemetry.stop(drain_timeout_s=10) == 0
    assert len(ingest.store_db.messages("kiosk-0001")) == 5
    fleet.wait_for(f"{K1}/up/status", lambda m: m.payload == b"offline")


def test_without_a_fleet_rows_wait_and_a_later_run_sends_them(broker: Mosquitto, make: Factory,
                                                             tmp_path: Path) -> None:
    db = tmp_path / "kiosk.db"
    config = kiosk_config(broker.url)
    telemetry, _ = make(config, db)
    assert telemetry.wait_online(5)
    commit_sales(db, 5, telemetry)
    started = time.monotonic()
    assert telemetry.stop(drain_timeout_s=0.5) == 5  # bounded: nobody acknowledges
    assert time.monotonic() - started < 5
    assert telemetry.status()["publisher"]["published"] == 0  # no fleet host STATE: nothing sent
    fleet_db = tmp_path / "fleet.db"
    ingest = Ingest(broker.url, fleet_db, username="fleet", password="fleet-secret").start()
    try:
        assert ingest.wait_ready(5)
        later, _ = make(config, db)
        assert wait_until(lambda: depth(db) == 0, 10)
        sales = ingest.store_db.messages("kiosk-0001", "sales")
        assert len(sales) == 5 and all(m["is_historical"] for m in sales)
        assert later.stop(2) == 0
    finally:
        ingest.stop()


def test_outbox_denied_by_the_acl_is_detected_and_kept(broker: Mosquitto, ingest: Ingest, make: Factory,
                                                       tmp_path: Path) -> None:
    """Misconfigured: kiosk id kiosk-0001 but broker login kiosk-0002, so every up/ publish is denied."""
    db = tmp_path / "kiosk.db"
    config = kiosk_config(broker.url, username="kiosk-0002", password="k2-secret")
    telemetry, _ = make(config, db)
    assert telemetry.wait_online(5)
    commit_sales(db, 3, telemetry)
    assert wait_until(lambda: telemetry.status()["publisher"]["denied"] is not None, 5)
    assert "authori" in telemetry.status()["publisher"]["denied"].lower()
    assert "outbox_rejected" in telemetry.status()["alerts"]
    assert depth(db) == 3 and ingest.stats.received == 0


def test_backlog_alert_is_raised_and_cleared(broker: Mosquitto, fleet: FleetProbe, make: Factory,
                                             tmp_path: Path) -> None:
    db = tmp_path / "kiosk.db"
    telemetry, _ = make(kiosk_config(broker.url, outbox_alert_depth=3), db)
    assert telemetry.wait_online(5)
    commit_sales(db, 4, telemetry)
    alert = fleet.wait_for(f"{K1}/up/alerts/outbox_backlog", lambda m: bool(m.payload))
    assert body(alert)["depth"] == 4 and body(alert)["active"] is True
    ingest = Ingest(broker.url, tmp_path / "fleet.db", username="fleet", password="fleet-secret").start()
    try:
        assert fleet.wait(lambda: fleet.on(f"{K1}/up/alerts/outbox_backlog")[-1].payload == b"", 10)
        assert depth(db) == 0
    finally:
        ingest.stop()


# --- alerts ----------------------------------------------------------------------------------------

def test_alerts_are_retained_and_cleared_with_an_empty_payload(broker: Mosquitto, fleet: FleetProbe,
                                                              make: Factory) -> None:
    telemetry, _ = make(kiosk_config(broker.url))
    telemetry.set_alert("paper_low", {"severity": "warning", "message": "paper near end"})  # before online
    assert telemetry.wait_online(5)
    raised = fleet.wait_for(f"{K1}/up/alerts/paper_low", lambda m: bool(m.payload))
    assert body(raised)["message"] == "paper near end" and body(raised)["since"]
    assert json.loads(retained(broker.port, f"{K1}/up/alerts/paper_low") or b"{}")["alert"] == "paper_low"
    telemetry.set_alert("paper_low", None)
    assert fleet.wait(lambda: fleet.on(f"{K1}/up/alerts/paper_low")[-1].payload == b"", 5)
    assert retained(broker.port, f"{K1}/up/alerts/paper_low") is None  # cleared: nothing retained
    with pytest.raises(ValueError):
        telemetry.set_alert("Paper Low!", {})


# --- commands ------------------------------------------------------------------------------------

def request(fleet: FleetProbe, name: str, payload: bytes | str, correlation: bytes) -> dict[str, Any]:
    reply_topic = f"{K1}/up/cmdres/ops"
    fleet.publish(f"{K1}/down/cmd/{name}", payload, response_topic=reply_topic, correlation=correlation,
                  expiry_s=60)
    return body(fleet.wait_for(reply_topic, lambda m: m.correlation == correlation))


def test_lock_unlock_round_trip_with_correlation(broker: Mosquitto, fleet: FleetProbe, make: Factory) -> None:
    telemetry, control = make(kiosk_config(broker.url))
    assert telemetry.wait_online(5)
    reply = request(fleet, "lock", '{"reason": "cleaning", "by": "ops-li"}', b"corr-1")
    assert reply["ok"] is True and reply["result"] == {"locked": True} and reply["command"] == "lock"
    assert control.locked and control.locked_by == "ops-li" and control.lock_reason == "cleaning"
    reply = request(fleet, "unlock", '{"by": "ops-li"}', b"corr-2")
    assert reply["ok"] and not control.locked
    # a QoS 1 redelivery of the same request is answered again but not run twice
    reply = request(fleet, "unlock", '{"by": "ops-li"}', b"corr-2")
    assert reply["ok"] and [c[0] for c in control.calls] == ["lock", "unlock"]


def test_unknown_command_and_bad_payloads_get_errors_and_change_nothing(broker: Mosquitto, fleet: FleetProbe,
                                                                       make: Factory) -> None:
    telemetry, control = make(kiosk_config(broker.url))
    assert telemetry.wait_online(5)
    reply = request(fleet, "self_destruct", "{}", b"c-1")
    assert not reply["ok"] and reply["error"]["code"] == "unknown_command"
    reply = request(fleet, "lock", "{not json", b"c-2")
    assert not reply["ok"] and reply["error"]["code"] == "bad_payload"
    reply = request(fleet, "lock", '{"reason": "x"}', b"c-3")  # who locks it?
    assert not reply["ok"] and "'by'" in reply["error"]["message"]
    reply = request(fleet, "set_prices", '{"prices": [{"gtin": "06901234567892", "price": 3.5}]}', b"c-4")
    assert not reply["ok"] and reply["error"]["code"] == "bad_payload"  # a float price
    reply = request(fleet, "set_prices", '{"prices": [{"gtin": "06901234567892", "price": "3.80"}, '
                                         '{"plu": "9999", "price": "1"}]}', b"c-5")
    assert not reply["ok"] and reply["error"]["code"] == "rejected" and "9999" in reply["error"]["message"]
    assert control.locked is False and str(control.prices["06901234567892"]) == "3.50"
    assert [c[0] for c in control.calls] == ["set_prices"]  # the refused one, which changed nothing


def test_other_commands(broker: Mosquitto, fleet: FleetProbe, make: Factory) -> None:
    telemetry, control = make(kiosk_config(broker.url))
    assert telemetry.wait_online(5)
    assert request(fleet, "set_prices", '{"prices": [{"plu": "4011", "price": "6.20"}]}', b"p")["result"] == \
        {"updated": 1}
    assert str(control.prices["4011"]) == "6.20"
    assert request(fleet, "reload_catalog", "", b"r")["result"] == {"items": 2}
    diag = request(fleet, "diagnostics", "{}", b"d")["result"]
    assert diag["kiosk"]["locked"] is False and diag["telemetry"]["connected"] is True
    assert diag["telemetry"]["config"]["mqtt"]["password"] == "***"
    control.logs.extend(["one", "two", "three"])
    assert request(fleet, "log_tail", '{"lines": 2}', b"l")["result"] == {"lines": ["two", "three"]}
    before = len(fleet.on(f"{K1}/up/birth"))
    assert request(fleet, "rebirth", "", b"b")["ok"]
    assert fleet.wait(lambda: len(fleet.on(f"{K1}/up/birth")) > before, 5)
    assert request(fleet, "restart", "", b"x")["result"] == {"restarting": True}
    assert control.restart_requested.wait(5)


# --- remote configuration ------------------------------------------------------------------------

def test_config_desired_to_reported(broker: Mosquitto, fleet: FleetProbe, make: Factory) -> None:
    telemetry, control = make(kiosk_config(broker.url))
    assert telemetry.wait_online(5)
    desired, reported = f"{K1}/down/config/desired", f"{K1}/up/config/reported"

    def report(version: int | None, status: str) -> dict[str, Any]:
        return body(fleet.wait_for(reported, lambda m: body(m)["version"] == version and body(m)["status"] == status))

    fleet.publish(desired, json.dumps({"version": 3, "config": {
        "security": {"tolerance_g": 20}, "printer": {"uri": "tcp://10.0.0.9:9100"},
        "mqtt": {"health_interval_s": 30}}}), retain=True)
    r = report(3, "partial")
    assert r["applied"] == ["mqtt.health_interval_s", "security.tolerance_g"]
    assert r["needs_restart"] == ["printer.uri"]
    assert json.loads(retained(broker.port, reported) or b"{}")["version"] == 3
    assert control.config_applied == ["security.tolerance_g"]

    fleet.publish(desired, json.dumps({"version": 4, "config": {"security": {"tolerance_g": "lots"}}}), retain=True)
    assert "security.tolerance_g" in report(4, "refused")["reason"]
    fleet.publish(desired, json.dumps({"version": 2, "config": {}}), retain=True)
    assert "older" in report(2, "refused")["reason"]
    fleet.publish(desired, json.dumps({"version": 5, "config": {"mqtt": {"url": "mqtt://evil:1883"}}}), retain=True)
    assert "mqtt.url cannot be changed remotely" in report(5, "refused")["reason"]
    fleet.publish(desired, b"[1, 2]", retain=True)
    assert report(None, "refused")["reason"]
    assert control.config_applied == ["security.tolerance_g"]  # the refused ones changed nothing
    assert telemetry.status()["config_version"] == 3


# --- transports ----------------------------------------------------------------------------------

def test_telemetry_over_mutual_tls(broker: Mosquitto, pki: Pki, fleet: FleetProbe, make: Factory) -> None:
    cert, key = pki.client("kiosk-0001")
    telemetry, control = make(kiosk_config(broker.tls_url, ca=str(pki.ca), cert=str(cert), key=str(key)))
    assert telemetry.wait_online(5), telemetry.status()["last_error"]
    assert body(fleet.wait_for(f"{K1}/up/birth"))["kiosk_id"] == "kiosk-0001"
    assert request(fleet, "lock", '{"by": "ops"}', b"tls")["ok"] and control.locked


def test_telemetry_over_mqtt_311_says_denials_are_undetectable(broker: Mosquitto, fleet: FleetProbe,
                                                                make: Factory) -> None:
    telemetry, control = make(kiosk_config(broker.url + "?protocol=3.1.1", health_interval_s=1))
    assert telemetry.wait_online(5)
    assert telemetry.status()["protocol"] == "3.1.1" and not telemetry.status()["publish_denials_detectable"]
    assert body(fleet.wait_for(f"{K1}/up/health"))["mqtt"]["publish_denials_detectable"] is False
    fleet.publish(f"{K1}/down/cmd/lock", '{"by": "ops", "correlation_id": "c-311"}')  # no ResponseTopic
    reply = body(fleet.wait_for(f"{K1}/up/cmdres/lock"))
    assert reply["ok"] and reply["correlation_id"] == "c-311" and control.locked
