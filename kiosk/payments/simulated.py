"""The simulated wallet: shows a QR like a real provider; the scenario (or a demo button) decides
whether the shopper pays, declines, lets it time out or cancels."""

from __future__ import annotations

from typing import Any

from kiosk.money import Money


class SimulatedWallet:
    def __init__(self) -> None:
        self.open_orders: dict[str, int] = {}

    def start(self, order_id: str, method: str, amount_fen: int, subject: str) -> dict[str, Any]:
        self.open_orders[order_id] = amount_fen
        return {"method": method, "qr": f"SIMPAY:{method}:{order_id}:{Money(amount_fen)}"}

    def cancel(self, order_id: str) -> None:
        self.open_orders.pop(order_id, None)
