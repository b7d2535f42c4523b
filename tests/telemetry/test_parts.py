"""Presence state, the alert board, health readings, command dispatch and config sync (no broker)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kiosk.config import Config, build
from kiosk.telemetry import health
from kiosk.telemetry.alerts import KNOWN_ALERTS, AlertBoard
from kiosk.telemetry.client import Inbound
from kiosk.telemetry.commands import CommandHandler, ConfigSync, changed_keys
from kiosk.telemetry.demo import DemoControl
from kiosk.telemetry.presence import Presence, PresenceStore, next_bd_seq, state_path_for
from kiosk.telemetry.topics import KioskTopics

T = KioskTopics("k1")


# --- presence -------------------------------------------------------------------------------------

def test_bd_seq_starts_at_zero_and_wraps() -> None:
    assert next_bd_seq(None) == 0 and next_bd_seq(0) == 1 and next_bd_seq(255) == 0


def test_bd_seq_is_committed_per_session_and_survives_restarts(tmp_path: Path) -> None:
    path = state_path_for(tmp_path / "kiosk.db")
    presence = Presence(T, PresenceStore(path))
    will = presence.will()
    assert will.topic == "kiosk/v1/k1/up/status" and will.payload == b"offline" and will.retain
    assert will.user_properties == (("bdSeq", "0"),)
    presence.will()  # a failed attempt (no CONNACK) does not use the number up
    assert presence.session_started() == 0
    assert presence.will().user_properties == (("bdSeq", "1"),)
    assert presence.session_started() == 1
    again = Presence(T, PresenceStore(path))  # a new process
    assert again.will().user_properties == (("bdSeq", "2"),)


@pytest.mark.parametrize("content", ["{", '{"bd_seq": "x"}', '{"bd_seq": 999}', "[]"])
def test_a_damaged_state_file_means_a_fresh_start(tmp_path: Path, content: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    assert PresenceStore(path).state.bd_seq is None


def test_config_version_is_kept(tmp_path: Path) -> None:
    store = PresenceStore(tmp_path / "s.json")
    store.update(bd_seq=4)
    store.update(config_version=7)
    assert PresenceStore(tmp_path / "s.json").state == store.state
    assert store.state.bd_seq == 4 and store.state.config_version == 7


# --- alerts ------------------------------------------------------------------------------------------

def test_alert_board() -> None:
    board = AlertBoard(T, lambda: "2026-01-01T00:00:00+00:00")
    topic, body = board.set("paper_low", {"message": "low"}) or ("", b"")
    assert topic == "kiosk/v1/k1/up/alerts/paper_low" and json.loads(body)["message"] == "low"
    assert board.set("paper_low", {"message": "low"}) is None  # unchanged: nothing to publish
    assert board.set("paper_low", None) == ("kiosk/v1/k1/up/alerts/paper_low", b"")
    assert board.set("paper_low", None) is None
    board.set("camera_lost", {"message": "no frames"})
    first = dict(board.on_connect(first=True))
    assert set(first) == {T.alert(n) for n in KNOWN_ALERTS}  # stale retained alerts get cleared
    assert first[T.alert("paper_low")] == b"" and json.loads(first[T.alert("camera_lost")])["active"]
    assert [t for t, _ in board.on_connect(first=False)] == [T.alert("camera_lost"), T.alert("paper_low")]
    assert board.active() == {"camera_lost": {"message": "no frames"}}
    with pytest.raises(ValueError):
        board.set("x", {"bad": float("nan")})
    with pytest.raises(ValueError):
        board.set("Bad Name", {})


# --- health -------------------------------------------------------------------------------------------

def test_health_readings_from_fake_proc_and_sys(tmp_path: Path) -> None:
    proc, sys_root = tmp_path / "proc", tmp_path / "sys"
    proc.mkdir()
    (proc / "meminfo").write_text("MemTotal:  4000000 kB\nMemFree: 1 kB\nMemAvailable:  1000000 kB\n")
    (proc / "uptime").write_text("12345.67 999.0\n")
    (proc / "stat").write_text("cpu 1 2 3\nbtime 1767225600\n")
    zone = sys_root / "class/thermal/thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "type").write_text("cpu-thermal\n")
    (zone / "temp").write_text("48312\n")
    assert health.cpu_temp_c(sys_root) == 48.3
    assert health.memory(proc) == {"total_mb": 3906.2, "available_mb": 976.6, "used_pct": 75.0}
    assert health.uptime_s(proc) == 12345.7
    assert health.boot_time(proc) == "2026-01-01T00:00:00+00:00"
    sampler = health.HealthSampler(devices=lambda: {"scale": {"state": "ok"}}, outbox=lambda: (3, 12.34),
                                   last_sale=lambda: "2026-01-01T01:00:00+00:00", data_dir=tmp_path,
                                   proc_root=proc, sys_root=sys_root)
    sample = sampler.sample()
    assert sample["outbox"] == {"depth": 3, "oldest_age_s": 12.3} and sample["cpu_temp_c"] == 48.3
    assert sample["devices"] == {"scale": {"state": "ok"}} and sample["disk"]["path"] == str(tmp_path)
    json.dumps(sample)


def test_health_without_the_files_is_none_not_an_error(tmp_path: Path) -> None:
    assert health.cpu_temp_c(tmp_path) is None
    assert health.memory(tmp_path) is None and health.uptime_s(tmp_path) is None
    assert health.boot_time(tmp_path) is None and health.disk(tmp_path / "nope") is None

    def broken() -> dict[str, Any]:
        raise RuntimeError("camera driver crashed")

    sample = health.HealthSampler(devices=broken, outbox=lambda: (0, None), last_sale=lambda: None,
                                  data_dir=tmp_path).sample()
    assert "camera driver crashed" in sample["devices"]["error"]


# --- commands -----------------------------------------------------------------------------------------

def inbound(name: str, payload: bytes, **kw: Any) -> Inbound:
    return Inbound(f"kiosk/v1/k1/down/cmd/{name}", payload, 1, False, **kw)


def handler(control: DemoControl) -> CommandHandler:
    return CommandHandler(T, control, now_iso=lambda: "t", rebirth=lambda: None, diagnostics=dict)


def test_reply_goes_to_the_response_topic_only_inside_the_kiosks_own_tree() -> None:
    control = DemoControl()
    h = handler(control)
    reply, _ = h.handle(inbound("lock", b'{"by": "a"}', response_topic="kiosk/v1/k1/up/cmdres/ops",
                                correlation_data=b"c", expiry_s=30))
    assert (reply.topic, reply.correlation_data, reply.expiry_s) == ("kiosk/v1/k1/up/cmdres/ops", b"c", 30)
    reply, _ = h.handle(inbound("unlock", b'{"by": "a"}', response_topic="kiosk/v1/k2/up/x"))
    assert reply.topic == "kiosk/v1/k1/up/cmdres/unlock"
    reply, _ = h.handle(inbound("unlock", b'{"by": "a", "correlation_id": "c-7"}'))  # MQTT 3.1.1 style
    assert reply.topic == "kiosk/v1/k1/up/cmdres/unlock" and json.loads(reply.payload)["correlation_id"] == "c-7"


def test_restart_replies_first_and_control_errors_become_replies() -> None:
    control = DemoControl()
    h = handler(control)
    reply, after = h.handle(inbound("restart", b""))
    assert json.loads(reply.payload)["ok"] and after is not None and not control.restart_requested.is_set()
    after()
    assert control.restart_requested.is_set()

    class Broken(DemoControl):
        def reload_catalog(self) -> int:
            raise RuntimeError("disk on fire")

    reply, _ = handler(Broken()).handle(inbound("reload_catalog", b""))
    assert json.loads(reply.payload)["error"] == {"code": "failed", "message": "RuntimeError: disk on fire"}
    reply, _ = h.handle(Inbound("kiosk/v1/k1/down/cmd/a/b", b"", 1, False))
    assert json.loads(reply.payload)["error"]["code"] == "unknown_command"


# --- config sync ----------------------------------------------------------------------------------

def test_changed_keys() -> None:
    a = build(Config, {}, "")
    b = build(Config, {"security": {"tolerance_g": 9}, "payments": {"methods": ["sim"]}}, "")
    assert changed_keys(a, b) == ["payments.methods", "security.tolerance_g"]
    assert changed_keys(a, a) == []


def test_config_sync_versions_and_refusals(tmp_path: Path) -> None:
    control = DemoControl()
    store = PresenceStore(tmp_path / "s.json")
    sync = ConfigSync(build(Config, {}, ""), control, store, apply_telemetry=lambda c, keys: keys,
                      now_iso=lambda: "t")

    def handle(doc: Any) -> Any:
        out = sync.handle(json.dumps(doc).encode())
        return None if out is None else json.loads(out)

    assert sync.handle(b"") is None
    r = handle({"version": 1, "config": {"timeouts": {"payment_s": 90}}})
    assert r == {"version": 1, "status": "applied", "applied": ["timeouts.payment_s"], "needs_restart": [],
                 "reason": None, "ts": "t"}
    assert handle({"version": 1, "config": {"timeouts": {"payment_s": 90}}}) is None  # retained copy again
    assert handle({"version": 2, "config": {"timeouts": {"payment_s": 90}}})["status"] == "unchanged"
    assert handle({"version": 3, "config": {"kiosk": {"id": "k2"}}})["status"] == "refused"
    assert "unknown key" in handle({"version": 4, "config": {"nope": {}}})["reason"]
    assert store.state.config_version == 2
    assert ConfigSync(build(Config, {}, ""), control, store, apply_telemetry=lambda c, k: k,
                      now_iso=lambda: "t").handle(b'{"version": 1}') is not None  # stale after restart
