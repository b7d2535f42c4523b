"""The lane: one core thread that owns the checkout state.

Peripheral threads, network callbacks and the UI only ``post`` events into the lane's queue. The
core thread takes them one at a time, lets the checkout flow decide, and carries out the effects
in order: the store before anything tells the shopper a sale is done, then printer, light,
buzzer, payments and fleet alerts. Listeners (the simulator's printer, the UI) see every event.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from kiosk import logs
from kiosk.catalog import Catalog
from kiosk.config import Config
from kiosk.errors import KioskError
from kiosk.events import DeviceState
from kiosk.flows import effects as fx
from kiosk.flows.checkout import CheckoutFlow
from kiosk.flows.events import PaymentResult, SaleNotStored, Tick
from kiosk.ids import id_source
from kiosk.sale import Sale
from kiosk.staff import DEMO_ACCOUNTS, StaffRoster
from kiosk.store import SaleStore

log = logging.getLogger("kiosk.lane")

Listener = Callable[[dict[str, Any]], None]


class Printer(Protocol):
    def print_receipt(self, sale: Sale, job_id: str) -> object: ...


class Payments(Protocol):
    def start(self, order_id: str, method: str, amount_fen: int, subject: str) -> dict[str, Any]: ...
    def cancel(self, order_id: str) -> None: ...


class Telemetry(Protocol):
    def set_alert(self, name: str, payload: dict[str, Any] | None) -> None: ...
    def notify_outbox(self) -> None: ...


class CoreCall:
    """A function to run on the core thread (from another thread), with its result handed back."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._state = "queued"  # queued -> running -> done, or queued -> abandoned

    def abandon(self) -> bool:
        """The caller gave up waiting: True if the call will now never run."""
        with self._lock:
            if self._state == "queued":
                self._state = "abandoned"
                return True
            return False

    def run(self) -> None:
        with self._lock:
            if self._state == "abandoned":  # its caller was told it failed: it must not happen later
                return
            self._state = "running"
        try:
            self.result = self.fn()
        except BaseException as exc:  # handed back to the caller's thread
            self.error = exc
        finally:
            self.done.set()


class Lane:
    """The running kiosk core, with its devices and services plugged in by the caller."""

    def __init__(self, config: Config, conn: sqlite3.Connection, clock: Callable[[], datetime], *,
                 roster: StaffRoster | None = None, new_id: Callable[[str], str] | None = None,
                 demo_staff: bool = False) -> None:
        """``demo_staff``: a simulation; the public demo badges (S0001/2468, S0002/1357) work when the
        config names no staff, and a PIN may come inside a scanned code. Never on a real lane."""
        self.config = config
        self.conn = conn
        self.clock = clock
        self.catalog = Catalog(conn)
        self.sales = SaleStore(conn, kiosk_id=config.kiosk.id, clock=clock)
        accounts = tuple(config.staff.accounts) or (DEMO_ACCOUNTS if demo_staff else ())
        self.flow = CheckoutFlow(config, self.catalog, clock, new_id or id_source(config.kiosk.id, clock),
                                 roster or StaffRoster(accounts), scanned_pins=demo_staff)
        self.queue: queue.Queue[object] = queue.Queue()
        self.listeners: list[Listener] = []
        self.printer: Printer | None = None
        self.payments: Payments | None = None
        self.light: Callable[[str], None] | None = None
        self.light_pattern = "off"  # the last pattern the flow asked for (a light plugged in later shows it)
        self.sound: Callable[[str], None] | None = None
        self.telemetry: Telemetry | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._print_jobs: queue.Queue[tuple[Sale, str] | None] | None = None
        logs.context.kiosk_id = config.kiosk.id
        self._run_effects(self.flow.start_effects())

    # -- the queue --------------------------------------------------------------------------

    def post(self, event: object) -> None:
        """Thread-safe: hand an event to the core thread."""
        self.queue.put(event)

    def process_pending(self) -> int:
        """Handle every queued event now, on the calling thread (simulator and tests)."""
        handled = 0
        while True:
            try:
                event = self.queue.get_nowait()
            except queue.Empty:
                return handled
            self.handle(event)
            handled += 1

    def call(self, fn: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Run ``fn`` on the core thread and return its result (thread-safe, bounded wait)."""
        job = CoreCall(fn)
        self.post(job)
        if not job.done.wait(timeout) and job.abandon():
            raise TimeoutError("the kiosk core did not answer in time; nothing was done")
        job.done.wait()  # it started just as we gave up: its result stands
        if job.error is not None:
            raise job.error
        return job.result

    def handle(self, event: object) -> None:
        if isinstance(event, CoreCall):
            event.run()
            return
        self._run_effects(self.flow.handle(event))
        logs.context.sale_id = self.flow.state.sale_id

    def start(self, tick_interval_s: float = 0.5) -> None:
        """Run the core on its own thread; a Tick every ``tick_interval_s`` drives the timeouts."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(tick_interval_s,), name="kiosk-core",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.queue.put(None)
        if self._print_jobs is not None:
            self._print_jobs.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self, tick_interval_s: float) -> None:
        while not self._stop.is_set():
            try:
                event = self.queue.get(timeout=tick_interval_s)
            except queue.Empty:
                event = Tick()
            if event is None:
                continue
            try:
                self.handle(event)
            except Exception:  # the core must outlive any one bad event
                log.exception("event %s failed", type(event).__name__)

    # -- printing -----------------------------------------------------------------------------

    def print_in_background(self) -> None:
        """Print receipts on a worker thread (a running kiosk); the simulator prints in line."""
        if self._print_jobs is None:
            self._print_jobs = queue.Queue()
            threading.Thread(target=self._print_worker, name="receipt-printer", daemon=True).start()

    def _print_worker(self) -> None:
        assert self._print_jobs is not None
        while True:
            job = self._print_jobs.get()
            if job is None:
                return
            self._print(*job)

    def _print(self, sale: Sale, job_id: str) -> None:
        if self.printer is None:
            return
        try:
            self.printer.print_receipt(sale, job_id)
        except KioskError as exc:
            log.warning("receipt %s not printed: %s", job_id, exc)
            self.post(DeviceState("printer", "fault", "print_failed"))
        except Exception:  # a printer bug must not kill the worker
            log.exception("receipt %s not printed", job_id)
            self.post(DeviceState("printer", "fault", "print_failed"))

    # -- effects ----------------------------------------------------------------------------

    def _run_effects(self, effects: list[fx.Effect]) -> None:
        for effect in effects:
            if not self._run(effect):
                break

    def _run(self, effect: fx.Effect) -> bool:
        """Carry out one effect; False stops the rest of its batch (a sale that did not commit)."""
        match effect:
            case fx.Emit(event):
                for listener in list(self.listeners):
                    try:
                        listener(event)
                    except Exception:
                        log.exception("listener failed on %s", event.get("event"))
            case fx.CommitSale(sale):
                try:
                    self.sales.commit_sale(sale)
                except Exception as exc:  # whatever broke, the sale must not be announced
                    log.error("sale %s could not be stored: %s", sale.sale_id, exc)
                    self.post(SaleNotStored(sale.sale_id, f"{type(exc).__name__}: {exc}"[:200]))
                    self.post(DeviceState("store", "fault", "sale_not_stored"))
                    return False
                log.info("sale committed total=%s lines=%d", sale.total, len(sale.lines))
                if self.telemetry is not None:
                    self.telemetry.notify_outbox()
            case fx.RecordEvent(kind, detail, sale_id, staff_id, publish):
                try:
                    self.sales.record_event(kind, detail, sale_id=sale_id, staff_id=staff_id, publish=publish)
                except (KioskError, sqlite3.Error, ValueError) as exc:
                    log.error("event %s could not be recorded: %s", kind, exc)
                if publish and self.telemetry is not None:
                    self.telemetry.notify_outbox()
            case fx.StartPayment(order_id, method, amount, subject):
                if self.payments is not None:
                    try:
                        shown = self.payments.start(order_id, method, amount.fen, subject)
                    except KioskError as exc:
                        log.warning("payment %s could not start: %s", order_id, exc)
                        self.post(PaymentResult(order_id, "declined", reference=str(exc)[:80]))
                    else:
                        self._run(fx.Emit({"event": "payment.qr", "order_id": order_id, **shown}))
            case fx.CancelPaymentOrder(order_id):
                if self.payments is not None:
                    self.payments.cancel(order_id)
            case fx.PrintReceipt(sale, job_id):
                if self.printer is not None:
                    if self._print_jobs is not None:
                        self._print_jobs.put((sale, job_id))  # a slow printer never holds up the next shopper
                    else:
                        self._print(sale, job_id)
            case fx.SetLight(pattern):
                self.light_pattern = pattern
                if self.light is not None:
                    self.light(pattern)
            case fx.Sound(kind):
                if self.sound is not None:
                    self.sound(kind)
            case fx.Alert(name, payload):
                if self.telemetry is not None:
                    self.telemetry.set_alert(name, payload)
        return True
