"""The kiosk's receipt printer: status between jobs, print jobs that never print twice.

    printer = ReceiptPrinter.from_config(cfg, post=core_queue.put)
    if printer.can_print():
        printer.print_receipt(sale, job_id=f"sale:{sale.sale_id}")
    else:
        ...show the e-receipt QR on screen...

Status is asked with DLE EOT 1..4 before and after each job, never during one. Each change of
health is posted once as ``DeviceState("printer", state, reason)``: ``warning paper_near_end``;
``fault paper_out | cover_open | offline | no_answer | bad_answer | cutter_error | printer_error |
recoverable_error``; ``warning status_unknown`` for ``file:``/``dummy:``, which cannot answer.
``print_receipt`` blocks for the write (seconds on a slow serial line).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kiosk.config import Config
from kiosk.errors import DeviceError
from kiosk.events import Post
from kiosk.peripherals.printer import status as st
from kiosk.peripherals.printer.escpos_out import encode
from kiosk.peripherals.printer.jobs import JobLog, JobState
from kiosk.peripherals.printer.link import PrinterLink, SendError
from kiosk.peripherals.printer.png import save_png
from kiosk.peripherals.printer.receipt import (
    Receipt,
    ReceiptSettings,
    layout_sale,
    layout_test_page,
)
from kiosk.peripherals.printer.simulator import SimulatedPrinter
from kiosk.peripherals.printer.uri import open_printer, parse_uri
from kiosk.sale import Sale

log = logging.getLogger(__name__)

JOBS_FILE = "printer-jobs.sqlite"


class PrinterUnavailable(DeviceError):
    """The printer cannot take a job now; ``status`` says why.

    ``maybe_printed`` False: nothing was sent, a retry with the same job id prints. True: the
    link failed after the write had begun, so part of the receipt (or all of it) may have come
    out; the job stays ``sending`` and is never resent automatically (staff reprint it).
    """

    def __init__(self, message: str, status: st.PrinterStatus, *, maybe_printed: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.maybe_printed = maybe_printed


@dataclass(frozen=True, slots=True)
class PrintResult:
    job_id: str
    outcome: str  # printed | duplicate (sent before, not again) | uncertain (maybe printed)
    status: st.PrinterStatus  # after the job
    bytes_sent: int = 0

    @property
    def printed(self) -> bool:
        return self.outcome == "printed"


class ReceiptPrinter:
    def __init__(self, link: PrinterLink, settings: ReceiptSettings, *, jobs: JobLog | None = None,
                 post: Post | None = None, png_dir: Path | None = None, profile: str | None = None) -> None:
        self.link = link
        self.settings = settings
        self.jobs = jobs or JobLog()
        self.post = post
        self.png_dir = png_dir
        self.profile = profile
        self.simulator: SimulatedPrinter | None = None
        self.last_status: st.PrinterStatus | None = None
        self._posted: tuple[str, str] | None = None
        self._lock = threading.RLock()

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def from_config(cls, cfg: Config, *, uri: str | None = None, jobs: JobLog | None = None,
                    post: Post | None = None, status_timeout_s: float = 0.5) -> ReceiptPrinter:
        """The printer at ``uri`` (default ``cfg.printer.uri``); job ids are remembered in
        ``{data_dir}/printer-jobs.sqlite`` unless ``jobs`` is given."""
        parsed = parse_uri(uri or cfg.printer.uri)
        if jobs is None:
            path = Path(cfg.kiosk.data_dir) / JOBS_FILE
            try:
                jobs = JobLog(path)
            except OSError as exc:
                raise DeviceError(f"cannot keep printer job ids in {path}: {exc.strerror}") from None
        link = PrinterLink(open_printer(parsed), str(parsed), status_timeout_s=status_timeout_s)
        return cls(link, ReceiptSettings.from_config(cfg), jobs=jobs, post=post, profile=parsed.profile)

    @classmethod
    def simulated(cls, cfg: Config, out_dir: str | Path, *, post: Post | None = None,
                  condition: st.PrinterCondition | None = None, png: bool = True) -> ReceiptPrinter:
        """For ``--simulate``: raw bytes appended to ``out_dir/receipts.bin``, a PNG per receipt
        in ``out_dir``, and status from ``printer.simulator`` (settable paper, cover, errors)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        sim = SimulatedPrinter(out / "receipts.bin", condition)
        printer = cls(PrinterLink(sim, "simulated"), ReceiptSettings.from_config(cfg),
                      jobs=JobLog(out / JOBS_FILE), post=post, png_dir=out if png else None)
        printer.simulator = sim
        return printer

    # --- status ---------------------------------------------------------------------------------

    def status(self) -> st.PrinterStatus:
        """Ask the printer now (DLE EOT 1..4); posts a DeviceState when the health changed."""
        with self._lock:
            status = self._ask()
            self._note(status)
            return status

    def can_print(self) -> bool:
        """False on any fault, including no answer: then offer the e-receipt QR on screen."""
        return self.status().can_print

    def _ask(self) -> st.PrinterStatus:
        if not self.link.readable:
            return st.UNREADABLE
        replies: dict[int, bytes | None] = {}
        for n in st.QUERIES:
            replies[n] = self.link.query(n)
            if n == 1 and st.valid_reply(replies[n]) is None:
                break  # nobody there: do not wait out three more timeouts
        return st.decode(replies)

    def _note(self, status: st.PrinterStatus) -> None:
        self.last_status = status
        key = (status.state, status.reason)
        if key != self._posted:
            self._posted = key
            quiet = status.state == "ok" or not status.readable
            log.log(logging.INFO if quiet else logging.WARNING,
                    "printer %s: %s %s", self.link.name, status.state, status.reason)
            if self.post is not None:
                self.post(status.device_state())

    def watch(self, stop: threading.Event, interval_s: float = 15.0) -> None:
        """Poll the status until ``stop`` is set (run it in a peripheral thread)."""
        while not stop.is_set():
            try:
                self.status()
            except Exception:  # a poller must outlive any one bad answer
                log.exception("printer %s: status poll failed", self.link.name)
            stop.wait(interval_s)

    # --- printing -------------------------------------------------------------------------------

    def receipt(self, sale: Sale, *, reprint: bool = False) -> Receipt:
        return layout_sale(sale, self.settings, reprint=reprint)

    def print_receipt(self, sale: Sale, job_id: str, *, reprint: bool = False) -> PrintResult:
        """Print ``sale`` once per ``job_id``. Raises ``PrinterUnavailable`` when the printer is
        faulty or the job cannot be sent: safe to retry with the same id unless ``maybe_printed``
        (the write failed part way; a retry then returns outcome ``uncertain``, nothing resent)."""
        return self._print_job(job_id, sale.sale_id, self.receipt(sale, reprint=reprint),
                               png_name=f"{_safe(sale.sale_id)}.png")

    def print_test_page(self, now: datetime | None = None, job_id: str | None = None) -> PrintResult:
        now = now or datetime.now(UTC)
        status = self.status()
        lines = [f"状态 Status: {status.state} {status.reason}".rstrip(), f"URI {self.link.name}"]
        receipt = layout_test_page(self.settings, now, lines)
        return self._print_job(job_id or f"test:{now.isoformat()}", None, receipt,
                               png_name=f"test-{now:%Y%m%dT%H%M%S}.png")

    def _print_job(self, job_id: str, sale_id: str | None, receipt: Receipt, png_name: str) -> PrintResult:
        with self._lock:
            previous = self.jobs.state(job_id)
            if previous is JobState.SENT:
                log.info("printer %s: job %s already printed; not printing again", self.link.name, job_id)
                return PrintResult(job_id, "duplicate", self.last_status or st.NO_ANSWER)
            if previous is JobState.SENDING:
                log.warning("printer %s: job %s was interrupted mid-write earlier; not resending",
                            self.link.name, job_id)
                return PrintResult(job_id, "uncertain", self.last_status or st.NO_ANSWER)
            before = self.status()
            if not before.can_print:
                raise PrinterUnavailable(f"printer {self.link.name} cannot print: {before.reason}", before)
            data = encode(receipt, self.profile)
            self.jobs.sending(job_id, sale_id)
            try:
                self.link.send(data)
            except DeviceError as exc:
                self._note(st.NO_ANSWER)
                if not isinstance(exc, SendError) or exc.started:
                    # bytes may be in the printer (a timeout mid-write on a paper-out RTS/CTS
                    # printer): resending would print a partial receipt and then a whole one
                    log.warning("printer %s: job %s failed part way; it may have printed, so it stays "
                                "'sending' and is not resent: %s", self.link.name, job_id, exc)
                    raise PrinterUnavailable(
                        f"printer {self.link.name} dropped job {job_id} part way ({exc}); part of the "
                        "receipt may have printed, so it is not resent automatically: reprint it if needed",
                        st.NO_ANSWER, maybe_printed=True) from exc
                self.jobs.failed(job_id, sale_id)  # nothing left: a retry may send it
                raise PrinterUnavailable(f"printer {self.link.name} could not take the job: {exc}",
                                         st.NO_ANSWER) from exc
            self.jobs.sent(job_id, sale_id)
            if self.png_dir is not None:
                save_png(receipt, self.png_dir / png_name)
            return PrintResult(job_id, "printed", self.status(), len(data))

    def close(self) -> None:
        with self._lock:
            self.link.close()
            self.jobs.close()

    def __enter__(self) -> ReceiptPrinter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100] or "receipt"
