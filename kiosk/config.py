"""Kiosk configuration: one TOML file, every setting with a default.

The file is found at ``--config``, else ``$KIOSK_CONFIG``, else ``/etc/kiosk/kiosk.toml`` (used
only when it exists; the simulator needs no file). Each section is a frozen dataclass below; a
bad key or value raises ``ConfigError`` naming the key, the bad value and what is allowed.

To add a setting, add a field with a default to its section; ``choices`` in the field metadata
limits a string to a set, ``min``/``max`` bound a number.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from kiosk.errors import ConfigError

DEFAULT_PATH = Path("/etc/kiosk/kiosk.toml")


def choice(default: str, *choices: str) -> Any:
    return field(default=default, metadata={"choices": choices})


def bounded(default: float | int, lo: float | None = None, hi: float | None = None) -> Any:
    return field(default=default, metadata={"min": lo, "max": hi})


@dataclass(frozen=True)
class KioskSection:
    id: str = "kiosk-001"
    store: str = "Demo Store 演示店"
    store_id: str = "store-001"
    lane: int = bounded(1, 1, 999)
    currency: str = choice("CNY", "CNY")
    timezone: str = "Asia/Shanghai"
    language: str = choice("zh", "zh", "en")
    data_dir: str = "/var/lib/kiosk"
    db: str = ""  # default: {data_dir}/kiosk.db


@dataclass(frozen=True)
class TimeoutsSection:
    idle_prompt_s: float = bounded(60, 5, 3600)  # "are you still there?" after this much quiet
    idle_abandon_s: float = bounded(30, 5, 3600)  # then the cart is abandoned after this much more
    payment_s: float = bounded(120, 10, 1800)
    receipt_s: float = bounded(15, 1, 600)
    feedback_s: float = bounded(10, 1, 600)
    staff_s: float = bounded(120, 10, 3600)


@dataclass(frozen=True)
class VariableMeasureLayout:
    """A GS1 variable-measure EAN-13 layout (prefix 20-29). Pattern over the 12 data digits:
    ``P`` prefix digits, ``I`` item code (PLU), ``V`` value, ``C`` embedded check digit, ``X`` ignored."""

    prefixes: list[str] = field(default_factory=lambda: ["20", "21", "22", "23", "24", "25", "26", "27", "28", "29"])
    pattern: str = "PPIIIIIVVVVV"
    value: str = choice("price", "price", "weight")
    decimals: int = bounded(2, 0, 3)  # fen for price when 2; grams for weight when 3


@dataclass(frozen=True)
class BarcodesSection:
    variable_measure: list[VariableMeasureLayout] = field(default_factory=lambda: [VariableMeasureLayout()])
    member_prefix: str = "M"
    coupon_prefix: str = "C-"
    staff_prefix: str = "S"
    receipt_prefix: str = "KR1:"


@dataclass(frozen=True)
class CameraSection:
    enabled: bool = True
    device: str = "0"
    width: int = bounded(640, 160, 4096)
    height: int = bounded(480, 120, 4096)
    fps: int = bounded(30, 1, 120)
    consensus_frames: int = bounded(2, 1, 10)
    rescan_gap_s: float = bounded(1.0, 0, 30)
    no_frame_alert_s: float = bounded(5.0, 0.5, 600)
    exposure: float = bounded(-1, -1, 100000)  # V4L2 exposure (driver units); -1 = the camera's auto exposure
    focus: float = bounded(-1, -1, 1000)  # fixed focus (driver units); -1 = autofocus
    # An added code whose bars are still seen but not read stays "in view" this long (0 = off: on the
    # stream benchmark a hold cost 3 of 47 deliberate re-scans; turn it on where glare re-adds packs).
    region_hold_s: float = bounded(0, 0, 60)


@dataclass(frozen=True)
class ScannerSection:
    enabled: bool = False
    device: str = "/dev/input/kiosk-scanner"
    key_gap_s: float = bounded(0.1, 0.01, 2.0)  # a longer pause inside a scan breaks it (then it is dropped)


@dataclass(frozen=True)
class ScaleSection:
    enabled: bool = True
    protocol: str = choice("toledo8217", "toledo8217", "sma", "mtsics", "cas")
    port: str = "/dev/kiosk-scale"
    capacity_kg: float = bounded(15.0, 0.1, 1000)
    division_g: float = bounded(5.0, 0.01, 1000)
    stable_window_s: float = bounded(0.3, 0, 10)
    poll_interval_s: float = bounded(0.2, 0.02, 10)


@dataclass(frozen=True)
class PrinterSection:
    enabled: bool = True
    uri: str = "dummy:"
    width_chars: int = bounded(48, 24, 80)


@dataclass(frozen=True)
class GpioSection:
    enabled: bool = True
    pin_factory: str = ""  # "" = gpiozero's default; "mock" in the simulator
    light_green: int = bounded(17, 0, 40)
    light_yellow: int = bounded(27, 0, 40)
    light_red: int = bounded(22, 0, 40)
    help_button: int = bounded(23, 0, 40)
    buzzer: int = bounded(24, 0, 40)
    bagging_sensor: int = bounded(-1, -1, 40)  # -1 = not fitted
    door_switch: int = bounded(-1, -1, 40)


@dataclass(frozen=True)
class SecuritySection:
    enabled: bool = True
    tolerance_g: int = bounded(15, 0, 5000)  # absolute tolerance when an item has none
    tolerance_pct: float = bounded(5.0, 0, 100)
    settle_s: float = bounded(2.0, 0, 60)


@dataclass(frozen=True)
class PaymentsSection:
    methods: list[str] = field(default_factory=lambda: ["alipay", "wechat", "unionpay", "emv"])
    simulated: bool = False


@dataclass(frozen=True)
class CouponsSection:
    """Coupons this store has issued (codes of kiosk/coupons.py); anything else is refused, so a
    shopper cannot invent one. The fleet can push a new list live."""

    accepted: list[str] = field(default_factory=list)
    max_per_sale: int = bounded(1, 0, 10)


@dataclass(frozen=True)
class MqttSection:
    enabled: bool = False
    url: str = "mqtt://127.0.0.1:1883"
    username: str = ""  # default: the kiosk id
    password: str = ""
    ca: str = ""
    cert: str = ""
    key: str = ""
    health_interval_s: float = bounded(60, 1, 3600)
    session_expiry_s: int = bounded(86400, 0, 4294967295)
    outbox_alert_depth: int = bounded(500, 1, 10_000_000)
    drain_timeout_s: float = bounded(10, 0, 600)  # on a clean stop, wait this long for the fleet's acks


@dataclass(frozen=True)
class StaffAccount:
    id: str = ""
    name: str = ""
    role: str = choice("attendant", "attendant", "supervisor")
    pin_hash: str = ""  # "pbkdf2_sha256$ITER$SALT$HEX" of "{id}:{pin}"; make one with `kiosk staff hash-pin`


@dataclass(frozen=True)
class StaffSection:
    accounts: list[StaffAccount] = field(default_factory=list)


@dataclass(frozen=True)
class Config:
    kiosk: KioskSection = field(default_factory=KioskSection)
    timeouts: TimeoutsSection = field(default_factory=TimeoutsSection)
    barcodes: BarcodesSection = field(default_factory=BarcodesSection)
    camera: CameraSection = field(default_factory=CameraSection)
    scanner: ScannerSection = field(default_factory=ScannerSection)
    scale: ScaleSection = field(default_factory=ScaleSection)
    bagging_scale: ScaleSection = field(default_factory=lambda: ScaleSection(port="/dev/kiosk-bagging-scale"))
    printer: PrinterSection = field(default_factory=PrinterSection)
    gpio: GpioSection = field(default_factory=GpioSection)
    security: SecuritySection = field(default_factory=SecuritySection)
    payments: PaymentsSection = field(default_factory=PaymentsSection)
    coupons: CouponsSection = field(default_factory=CouponsSection)
    mqtt: MqttSection = field(default_factory=MqttSection)
    staff: StaffSection = field(default_factory=StaffSection)

    @property
    def db_path(self) -> Path:
        return Path(self.kiosk.db) if self.kiosk.db else Path(self.kiosk.data_dir) / "kiosk.db"


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None, *,
                defaults: dict[str, Any] | None = None) -> Config:
    """Read the TOML file (if any) over ``defaults`` and apply ``overrides`` (nested dicts) on top.

    ``path`` None means ``$KIOSK_CONFIG`` or the default path when it exists, else defaults only.
    """
    data: dict[str, Any] = {}
    chosen = Path(path) if path else (Path(os.environ["KIOSK_CONFIG"]) if os.environ.get("KIOSK_CONFIG") else None)
    if chosen is not None:
        if not chosen.is_file():
            raise ConfigError(f"config file {chosen} does not exist; pass --config with a readable TOML file")
        data = _read_toml(chosen)
    elif DEFAULT_PATH.is_file():
        data = _read_toml(DEFAULT_PATH)
    if defaults:
        data = merge(defaults, data)
    if overrides:
        data = merge(data, overrides)
    return build(Config, data, "")


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Nested merge: tables merge key by key, anything else in ``extra`` replaces."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None


def build(cls: type, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a TOML table, checking every key and value."""
    if not isinstance(data, dict):
        raise ConfigError(f"config: {where or 'the file'} must be a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ConfigError(f"config: unknown key {key}; allowed here: {', '.join(sorted(fields))}")
    values = {}
    for name, value in data.items():
        key = f"{where}.{name}" if where else name
        values[name] = _convert(hints[name], fields[name], value, key)
    return cls(**values)


SECRET_KEYS = ("password", "pin_hash", "key")


def _convert(hint: Any, f: dataclasses.Field[Any], value: Any, key: str) -> Any:
    try:
        return _convert_value(hint, f, value, key)
    except ConfigError as exc:
        if key.rsplit(".", 1)[-1] in SECRET_KEYS and repr(value) in str(exc):
            # never echo a secret into a log or a terminal, even a mistyped one
            raise ConfigError(str(exc).replace(repr(value), "(hidden)")) from None
        raise


def _convert_value(hint: Any, f: dataclasses.Field[Any], value: Any, key: str) -> Any:
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return build(hint, value, key)
    origin = typing.get_origin(hint)
    if origin is list:
        (inner,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"config: {key} = {value!r} is not allowed; expected a list")
        return [_convert(inner, f, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin in (types.UnionType, typing.Union):
        raise ConfigError(f"config: {key} has an unsupported type")  # not used by any section
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config: {key} = {value!r} is not allowed; expected true or false")
        return value
    if hint in (int, float):
        ok = isinstance(value, int) if hint is int else isinstance(value, int | float)
        if isinstance(value, bool) or not ok:
            raise ConfigError(f"config: {key} = {value!r} is not allowed; expected {'a whole number' if hint is int else 'a number'}")
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ConfigError(f"config: {key} = {value!r} is not allowed; expected a number from {lo} to {hi}")
        return hint(value)
    if hint is Decimal:
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise ConfigError(f"config: {key} = {value!r} is not allowed; expected a decimal number") from None
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"config: {key} = {value!r} is not allowed; expected text")
        choices = f.metadata.get("choices")
        if choices and value not in choices:
            raise ConfigError(f"config: {key} = {value!r} is not allowed; expected one of: {', '.join(choices)}")
        return value
    raise ConfigError(f"config: {key} has an unsupported type {hint!r}")


def to_dict(config: Any) -> dict[str, Any]:
    """The configuration as plain data (for ``config reported`` and diagnostics); secrets masked."""
    data = dataclasses.asdict(config)
    mqtt = data.get("mqtt", {})
    if mqtt.get("password"):
        mqtt["password"] = "***"
    for account in data.get("staff", {}).get("accounts", []):
        account["pin_hash"] = "***"
    return data
