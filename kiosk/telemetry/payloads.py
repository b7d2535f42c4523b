"""MQTT payloads of DESIGN 3.6, built and checked by pure functions (no sockets, no clock).

Everything is compact UTF-8 JSON except ``status`` (the bare words ``online`` / ``offline``) and
alert clears (an empty retained payload). Parsers take the raw bytes a peer sent and raise
``PayloadError`` with a stable ``code`` and a message that says what was wrong; nothing a peer
sends can crash the caller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kiosk.errors import KioskError
from kiosk.money import Money

ONLINE = b"online"
OFFLINE = b"offline"
CLEAR = b""  # an empty retained payload deletes the retained message (clears an alert)

MAX_ACK_IDS = 10_000
MAX_PRICE_CHANGES = 10_000
MAX_LOG_LINES = 1_000

_GTIN = re.compile(r"^\d{8,14}$")
_PLU = re.compile(r"^[0-9A-Za-z]{1,14}$")


class PayloadError(KioskError, ValueError):
    """A payload from a peer is malformed. ``code`` is stable (``bad_payload``, ``unknown_command``)."""

    def __init__(self, message: str, code: str = "bad_payload") -> None:
        super().__init__(message)
        self.code = code


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                      default=str).encode("utf-8")


def loads_object(payload: bytes, what: str) -> dict[str, Any]:
    """Decode a JSON object; anything else is a ``PayloadError`` naming ``what``."""
    try:
        data = json.loads(payload.decode("utf-8")) if payload else None
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError(f"{what} is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError(f"{what} must be a JSON object, got {type(data).__name__}")
    return data


# --- presence -------------------------------------------------------------------------------

def birth(*, kiosk_id: str, bd_seq: int, ts: str, boot_time: str | None, started_at: str,
          firmware: str, config_version: int | None, protocol: str,
          capabilities: Mapping[str, Any]) -> bytes:
    """The retained birth certificate (Sparkplug NBIRTH in spirit): who is talking, since when."""
    return dumps({
        "kiosk_id": kiosk_id, "bdSeq": bd_seq, "ts": ts, "boot_time": boot_time,
        "started_at": started_at, "firmware": firmware, "config_version": config_version,
        "mqtt_protocol": protocol, "capabilities": dict(capabilities),
    })


@dataclass(frozen=True, slots=True)
class HostState:
    """The fleet's retained ``fleet/v1/host/STATE``: is anybody there to acknowledge sales."""

    online: bool
    timestamp: int  # ms since the epoch, set by the host when it connected


def host_state(online: bool, timestamp_ms: int) -> bytes:
    return dumps({"online": online, "timestamp": timestamp_ms})


def parse_host_state(payload: bytes) -> HostState:
    data = loads_object(payload, "host STATE")
    online, ts = data.get("online"), data.get("timestamp")
    if not isinstance(online, bool) or isinstance(ts, bool) or not isinstance(ts, int):
        raise PayloadError('host STATE must be {"online": true|false, "timestamp": <ms>}')
    return HostState(online, ts)


# --- outbox messages and acknowledgements ----------------------------------------------------

def outbox_message(payload: Mapping[str, Any], *, msg_id: str, seq: int, kiosk_id: str,
                   created_at: str, is_historical: bool) -> bytes:
    """A sale or event as published: the stored payload plus the delivery fields of DESIGN 3.6."""
    body = dict(payload)
    body.setdefault("kiosk_id", kiosk_id)
    body.setdefault("ts", created_at)
    body["msg_id"] = msg_id
    body["seq"] = seq
    body["is_historical"] = is_historical
    return dumps(body)


def parse_outbox_message(payload: bytes) -> dict[str, Any]:
    """What the fleet checks before storing a sale or event: an object with ``msg_id`` (and ``seq``)."""
    data = loads_object(payload, "outbox message")
    msg_id = data.get("msg_id")
    if not isinstance(msg_id, str) or not 1 <= len(msg_id) <= 128:
        raise PayloadError("outbox message needs a text msg_id (1 to 128 characters)")
    seq = data.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
        raise PayloadError(f"outbox message seq must be a whole number, got {seq!r}")
    return data


def ack(msg_ids: Iterable[str]) -> bytes:
    return dumps({"acked": list(msg_ids)})


def parse_ack(payload: bytes) -> list[str]:
    data = loads_object(payload, "ack")
    ids = data.get("acked")
    if not isinstance(ids, list) or not all(isinstance(m, str) for m in ids):
        raise PayloadError('ack must be {"acked": ["msg_id", ...]}')
    if len(ids) > MAX_ACK_IDS:
        raise PayloadError(f"ack lists {len(ids)} ids; at most {MAX_ACK_IDS} per message")
    return ids


# --- alerts and health ------------------------------------------------------------------------

def alert(name: str, detail: Mapping[str, Any], *, kiosk_id: str, since: str) -> bytes:
    """A raised alert. ``detail`` (severity, message, ...) cannot override the identifying keys."""
    body = {"severity": "warning", **detail, "alert": name, "kiosk_id": kiosk_id, "since": since,
            "active": True}
    return dumps(body)


def health(sample: Mapping[str, Any], *, kiosk_id: str, ts: str) -> bytes:
    return dumps({"kiosk_id": kiosk_id, "ts": ts, **sample})


# --- commands -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PriceChange:
    """One line of ``set_prices``: exactly one of ``gtin`` or ``plu``, and the new price."""

    gtin: str | None
    plu: str | None
    price: Money


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: dict[str, Any] = field(default_factory=dict)
    correlation_id: str | None = None  # echoed when the request carried one in its payload


def _text(args: dict[str, Any], key: str, *, required: bool, default: str = "",
          max_len: int = 200) -> str:
    value = args.get(key, None)
    if value is None:
        if required:
            raise PayloadError(f"missing {key!r} (text)")
        return default
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise PayloadError(f"{key!r} must be non-empty text of at most {max_len} characters")
    return value.strip()


def _price_change(i: int, entry: Any) -> PriceChange:
    where = f"prices[{i}]"
    if not isinstance(entry, dict):
        raise PayloadError(f"{where} must be an object like {{\"gtin\": \"...\", \"price\": \"12.50\"}}")
    unknown = sorted(set(entry) - {"gtin", "plu", "price"})
    if unknown:
        raise PayloadError(f"{where} has unknown field {unknown[0]!r}; allowed: gtin, plu, price")
    gtin, plu = entry.get("gtin"), entry.get("plu")
    if (gtin is None) == (plu is None):
        raise PayloadError(f"{where} needs exactly one of gtin or plu")
    if gtin is not None and (not isinstance(gtin, str) or not _GTIN.match(gtin)):
        raise PayloadError(f"{where}.gtin must be 8 to 14 digits as text, got {gtin!r}")
    if plu is not None and (not isinstance(plu, str) or not _PLU.match(plu)):
        raise PayloadError(f"{where}.plu must be 1 to 14 letters or digits, got {plu!r}")
    raw = entry.get("price")
    if raw is None:
        raise PayloadError(f"{where} needs a price in yuan as text, e.g. \"12.50\"")
    try:
        price = Money.parse(raw)
    except (ValueError, TypeError) as exc:
        raise PayloadError(f"{where}.price: {exc}") from None
    if price.fen < 0:
        raise PayloadError(f"{where}.price must not be negative")
    return PriceChange(gtin, plu, price)


def _args_lock(a: dict[str, Any]) -> dict[str, Any]:
    return {"reason": _text(a, "reason", required=False, default="remote lock"),
            "by": _text(a, "by", required=True, max_len=64)}


def _args_unlock(a: dict[str, Any]) -> dict[str, Any]:
    return {"by": _text(a, "by", required=True, max_len=64)}


def _args_restart(a: dict[str, Any]) -> dict[str, Any]:
    return {"reason": _text(a, "reason", required=False, default="remote restart")}


def _args_none(a: dict[str, Any]) -> dict[str, Any]:
    return {}


def _args_set_prices(a: dict[str, Any]) -> dict[str, Any]:
    prices = a.get("prices")
    if not isinstance(prices, list) or not prices:
        raise PayloadError('set_prices needs "prices": a non-empty list of {gtin|plu, price}')
    if len(prices) > MAX_PRICE_CHANGES:
        raise PayloadError(f"set_prices takes at most {MAX_PRICE_CHANGES} prices per command")
    changes = [_price_change(i, e) for i, e in enumerate(prices)]
    keys = [("gtin", c.gtin) if c.gtin else ("plu", c.plu) for c in changes]
    if len(set(keys)) != len(keys):
        raise PayloadError("set_prices lists the same item twice")
    return {"prices": changes}


def _args_log_tail(a: dict[str, Any]) -> dict[str, Any]:
    n = a.get("lines", 100)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_LOG_LINES:
        raise PayloadError(f"'lines' must be a whole number from 1 to {MAX_LOG_LINES}")
    return {"lines": n}


# name -> (allowed fields, validator)
COMMANDS: dict[str, tuple[frozenset[str], Any]] = {
    "lock": (frozenset({"reason", "by"}), _args_lock),
    "unlock": (frozenset({"by"}), _args_unlock),
    "restart": (frozenset({"reason"}), _args_restart),
    "rebirth": (frozenset(), _args_none),
    "reload_catalog": (frozenset(), _args_none),
    "set_prices": (frozenset({"prices"}), _args_set_prices),
    "diagnostics": (frozenset(), _args_none),
    "log_tail": (frozenset({"lines"}), _args_log_tail),
}


def parse_command(name: str, payload: bytes) -> Command:
    """Check a command request. An empty payload means no arguments.

    Raises ``PayloadError`` with code ``unknown_command`` or ``bad_payload``.
    """
    if name not in COMMANDS:
        raise PayloadError(f"unknown command {name!r}; known: {', '.join(sorted(COMMANDS))}",
                           code="unknown_command")
    args = loads_object(payload, f"command {name}") if payload else {}
    correlation = args.pop("correlation_id", None)
    if correlation is not None and (not isinstance(correlation, str) or len(correlation) > 128):
        raise PayloadError("correlation_id must be text of at most 128 characters")
    allowed, validate = COMMANDS[name]
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise PayloadError(f"command {name} has unknown field {unknown[0]!r}; "
                           f"allowed: {', '.join(sorted(allowed)) or 'none'}")
    return Command(name, validate(args), correlation)


def command_response(name: str, *, ok: bool, ts: str, result: Any = None, code: str = "",
                     message: str = "", correlation_id: str | None = None) -> bytes:
    body: dict[str, Any] = {"command": name, "ok": ok, "ts": ts}
    if ok:
        body["result"] = result
    else:
        body["error"] = {"code": code, "message": message}
    if correlation_id is not None:
        body["correlation_id"] = correlation_id
    return dumps(body)


# --- remote configuration -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DesiredConfig:
    version: int
    config: dict[str, Any]  # overrides on top of the kiosk's own config file, as TOML tables


def parse_desired(payload: bytes) -> DesiredConfig:
    data = loads_object(payload, "config desired")
    unknown = sorted(set(data) - {"version", "config"})
    if unknown:
        raise PayloadError(f"config desired has unknown field {unknown[0]!r}; allowed: config, version")
    version, config = data.get("version"), data.get("config", {})
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise PayloadError("config desired needs \"version\": a whole number >= 0")
    if not isinstance(config, dict):
        raise PayloadError("config desired \"config\" must be an object of sections")
    return DesiredConfig(version, config)


def config_reported(*, version: int | None, status: str, ts: str, applied: Iterable[str] = (),
                    needs_restart: Iterable[str] = (), reason: str | None = None) -> bytes:
    """``status``: applied | partial (some keys need a restart) | unchanged | refused."""
    return dumps({"version": version, "status": status, "applied": sorted(applied),
                  "needs_restart": sorted(needs_restart), "reason": reason, "ts": ts})
