"""Staff accounts and PIN checks. PINs are stored only as salted PBKDF2 hashes, never logged."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from kiosk.config import StaffAccount

ITERATIONS = 60_000

# The simulator's demo accounts (DESIGN 3.2): attendant S0001 / PIN 2468, supervisor S0002 / PIN 1357.
DEMO_ACCOUNTS = (
    StaffAccount(id="S0001", name="Demo attendant 值班员", role="attendant",
                 pin_hash="pbkdf2_sha256$60000$demo-s0001$709f59db7f97d805a2bbe8c34f97adf866779c5dda0cd0830a7750ae1a571bf2"),
    StaffAccount(id="S0002", name="Demo supervisor 主管", role="supervisor",
                 pin_hash="pbkdf2_sha256$60000$demo-s0002$3e75e171f213760c13faa341fb2d677032a13a53a2e0033bd7d84b0ceaf7f6c4"),
)


def hash_pin(staff_id: str, pin: str, salt: str | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", f"{staff_id}:{pin}".encode(), salt.encode(), iterations).hex()
    return f"pbkdf2_sha256${iterations}${salt}${digest}"


def verify_pin(account: StaffAccount, pin: str) -> bool:
    try:
        scheme, iterations, salt, expected = account.pin_hash.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        actual = hash_pin(account.id, pin, salt, int(iterations)).rsplit("$", 1)[1]
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True)
class StaffRoster:
    accounts: tuple[StaffAccount, ...]

    def authenticate(self, staff_id: str, pin: str) -> StaffAccount | None:
        account = next((a for a in self.accounts if a.id == staff_id), None)
        if account is None or not verify_pin(account, pin):
            return None
        return account
