"""Configuration: defaults for everything, one clear message for each kind of bad value."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kiosk.config import Config, load_config, to_dict
from kiosk.errors import ConfigError


def test_defaults_need_no_file(monkeypatch):
    monkeypatch.delenv("KIOSK_CONFIG", raising=False)
    cfg = load_config(None)
    assert isinstance(cfg, Config)
    assert cfg.kiosk.currency == "CNY" and cfg.scale.protocol == "toledo8217"


def test_file_and_env(tmp_path, monkeypatch):
    path = tmp_path / "kiosk.toml"
    path.write_text('[kiosk]\nid = "lane-7"\nlane = 7\n[scale]\nprotocol = "cas"\n'
                    '[[barcodes.variable_measure]]\nprefixes = ["28"]\npattern = "PPIIIIIVVVVV"\n'
                    'value = "weight"\ndecimals = 3\n', encoding="utf-8")
    monkeypatch.setenv("KIOSK_CONFIG", str(path))
    cfg = load_config(None)
    assert (cfg.kiosk.id, cfg.kiosk.lane, cfg.scale.protocol) == ("lane-7", 7, "cas")
    assert cfg.barcodes.variable_measure[0].value == "weight"
    assert cfg.timeouts.payment_s == 120  # untouched defaults stay


@pytest.mark.parametrize("toml, words", [
    ("[scale]\nprotocol = 'abacus'\n", ["scale.protocol", "'abacus'", "toledo8217, sma, mtsics, cas"]),
    ("[kiosk]\nlane = 'one'\n", ["kiosk.lane", "'one'", "whole number"]),
    ("[kiosk]\nlane = 0\n", ["kiosk.lane", "from 1 to 999"]),
    ("[timeouts]\npayment_s = true\n", ["timeouts.payment_s", "a number"]),
    ("[camera]\nenabled = 'yes'\n", ["camera.enabled", "true or false"]),
    ("[camera]\nzoom = 3\n", ["camera.zoom", "unknown key", "allowed here"]),
    ("[bogus]\nx = 1\n", ["unknown key bogus"]),
    ("scale = 3\n", ["scale must be a table"]),
    ("[payments]\nmethods = 'alipay'\n", ["payments.methods", "list"]),
    ("[kiosk\nid=", ["not valid TOML"]),
])
def test_bad_values_name_key_value_and_what_is_allowed(tmp_path, toml, words):
    path = tmp_path / "kiosk.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    for word in words:
        assert word in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "none.toml")


def test_secrets_are_masked():
    cfg = load_config(None, {"mqtt": {"password": "hunter2"},
                             "staff": {"accounts": [{"id": "S1", "pin_hash": "pbkdf2_sha256$1$a$b"}]}})
    data = to_dict(cfg)
    assert data["mqtt"]["password"] == "***" and data["staff"]["accounts"][0]["pin_hash"] == "***"


def test_cli_bad_config_exit_2_no_traceback(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text("[gpio]\nbuzzer = 99\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "kiosk", "simulate", "x.yaml", "--config", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "gpio.buzzer = 99" in proc.stderr and "Traceback" not in proc.stderr


def test_the_example_config_loads():
    from pathlib import Path
    cfg = load_config(Path(__file__).resolve().parents[1] / "examples" / "kiosk.toml")
    assert cfg.kiosk.lane == 3 and cfg.security.enabled and cfg.staff.accounts


def test_hash_pin_command_round_trip():
    from kiosk.config import StaffAccount
    from kiosk.staff import verify_pin
    proc = subprocess.run([sys.executable, "-m", "kiosk", "staff", "hash-pin", "S0100"], input="8642\n",
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    pin_hash = proc.stdout.split('"')[1]
    account = StaffAccount(id="S0100", pin_hash=pin_hash)
    assert verify_pin(account, "8642") and not verify_pin(account, "8643")
    bad = subprocess.run([sys.executable, "-m", "kiosk", "staff", "hash-pin", "S0100"], input="12\n",
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "4 to 8 digits" in bad.stderr


def test_a_mistyped_secret_is_never_echoed(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text("[mqtt]\npassword = 20250611\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "mqtt.password" in str(err.value) and "20250611" not in str(err.value)
