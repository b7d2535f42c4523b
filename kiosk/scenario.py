"""Scenario files (DESIGN 3.2): a scripted shopper, attendant and wallet, for the simulator,
UI tests, demos and training. Loading checks every step before anything runs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kiosk.errors import ScenarioError

WALLET_OUTCOMES = ("paid", "declined", "timeout", "cancel")
RECEIPT_CHOICES = ("print", "none", "qr")
PAY_METHODS = ("alipay", "wechat", "unionpay", "emv", "sim")
_STAFF = re.compile(r"^([A-Za-z0-9]{1,16}):(\d{4,8})$")
_REMOVE = re.compile(r"^remove\s+(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Step:
    number: int  # 1-based, as a person counts them
    kind: str
    value: Any

    def describe(self) -> str:
        return f"step {self.number} ({self.kind}: {self.value!r})"


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: tuple[Step, ...]
    catalog: Path | None = None
    config: dict[str, Any] | None = None


def _kg(value: Any, where: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{where}: expected a weight in kg such as 0.512, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero) or value > 1000:
        raise ScenarioError(f"{where}: weight {value!r} kg is out of range")
    return float(value)


def _check_step(number: int, raw: Any) -> Step:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ScenarioError(f"step {number}: each step is one `kind: value` pair, got {raw!r}")
    ((kind, value),) = raw.items()
    where = f"step {number} ({kind})"
    match kind:
        case "scan" | "member" | "coupon" | "plu":
            if not isinstance(value, str):
                # YAML reads 0123 as a number (even octal): a code must keep every digit as written
                raise ScenarioError(f'{where}: write the code in quotes, e.g. {kind}: "{value}"')
        case "bag":
            if value == "auto":
                pass
            elif isinstance(value, str) and (m := _REMOVE.match(value.strip())):
                value = -_kg(float(m.group(1)), where)
            else:
                value = _kg(value, where)
        case "weigh":
            value = _kg(value, where, allow_zero=True)
        case "qty" | "void" | "feedback":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ScenarioError(f"{where}: expected a whole number >= 1, got {value!r}")
        case "staff":
            if not isinstance(value, str) or not _STAFF.match(value):
                raise ScenarioError(f"{where}: expected \"BADGE:PIN\" such as \"S0001:2468\", got {value!r}")
        case "help" | "still_here" | "start":
            if value is not True:
                raise ScenarioError(f"{where}: expected true, got {value!r}")
        case "wait":
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 86400:
                raise ScenarioError(f"{where}: expected seconds from 0 to 86400, got {value!r}")
        case "pay":
            if value not in PAY_METHODS:
                raise ScenarioError(f"{where}: expected one of {', '.join(PAY_METHODS)}, got {value!r}")
        case "wallet":
            if value not in WALLET_OUTCOMES:
                raise ScenarioError(f"{where}: expected one of {', '.join(WALLET_OUTCOMES)}, got {value!r}")
        case "receipt":
            if value not in RECEIPT_CHOICES:
                raise ScenarioError(f"{where}: expected one of {', '.join(RECEIPT_CHOICES)}, got {value!r}")
        case "language":
            if value not in ("zh", "en"):
                raise ScenarioError(f"{where}: expected zh or en, got {value!r}")
        case "lock":
            if not isinstance(value, bool):
                raise ScenarioError(f"{where}: expected true (lock) or false (unlock), got {value!r}")
        case _:
            kinds = "scan, bag, plu, weigh, qty, void, staff, member, coupon, help, wait, pay, wallet, " \
                    "receipt, feedback, language, start, still_here, lock"
            raise ScenarioError(f"step {number}: unknown step kind {kind!r}; known kinds: {kinds}")
    return Step(number, kind, value)


def parse_scenario(data: Any, base_dir: Path | None = None, source: str = "scenario") -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario is a mapping with `steps`, got {type(data).__name__}")
    unknown = set(data) - {"name", "catalog", "config", "steps", "description"}
    if unknown:
        raise ScenarioError(f"{source}: unknown key {sorted(unknown)[0]!r}; "
                            "allowed: name, description, catalog, config, steps")
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise ScenarioError(f"{source}: `steps` must be a non-empty list")
    config = data.get("config")
    if config is not None and not isinstance(config, dict):
        raise ScenarioError(f"{source}: `config` must be a mapping of overrides")
    catalog = data.get("catalog")
    catalog_path = None
    if catalog is not None:
        if not isinstance(catalog, str):
            raise ScenarioError(f"{source}: `catalog` must be a path")
        catalog_path = Path(catalog)
        if not catalog_path.is_absolute() and base_dir is not None and (base_dir / catalog_path).exists():
            catalog_path = base_dir / catalog_path
    return Scenario(name=str(data.get("name", source)), config=config, catalog=catalog_path,
                    steps=tuple(_check_step(n, raw) for n, raw in enumerate(steps, start=1)))


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"scenario {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"scenario {path} is not valid YAML: {exc}".replace("\n", " ")) from None
    return parse_scenario(data, path.parent, str(path))
