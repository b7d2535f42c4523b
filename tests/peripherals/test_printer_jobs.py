"""Job ids: a retry of the same job after a dropout never prints twice."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import serial

from kiosk.peripherals.printer import (
    JobLog,
    JobState,
    PrinterUnavailable,
    ReceiptPrinter,
    SimulatedPrinter,
)
from kiosk.peripherals.printer import status as st
from kiosk.peripherals.printer.link import PrinterLink
from kiosk.peripherals.printer.receipt import ReceiptSettings
from tests.peripherals.test_printer_receipt import make_sale

SETTINGS = ReceiptSettings(store="Demo Store 演示店", kiosk_id="kiosk-001", lane=1)


class FlakyPrinter(SimulatedPrinter):
    """Drops the link during a job write (``drop_during``) or right after it (``drop_after``)."""

    drop_during = False
    drop_after = False

    def _raw(self, msg: bytes) -> None:
        is_query = len(msg) == 3 and msg[:2] == st.DLE_EOT
        if not is_query and self.drop_during:
            self.drop_during = False
            raise OSError(errno.EIO, "link dropped mid-write")
        super()._raw(msg)
        if not is_query and self.drop_after:
            self.drop_after = False
            self.unplugged = True


def make_printer(sim: SimulatedPrinter, jobs: JobLog | None = None) -> ReceiptPrinter:
    return ReceiptPrinter(PrinterLink(sim, "sim"), SETTINGS, jobs=jobs or JobLog())


def test_job_log_states(tmp_path: Path) -> None:
    log = JobLog(tmp_path / "jobs.sqlite")
    assert log.state("a") is None
    log.sending("a", "S1")
    assert log.state("a") is JobState.SENDING
    log.sent("a", "S1")
    assert log.state("a") is JobState.SENT
    log.failed("b")
    assert log.state("b") is JobState.FAILED
    log.close()
    again = JobLog(tmp_path / "jobs.sqlite")
    assert again.state("a") is JobState.SENT and again.state("b") is JobState.FAILED


def test_same_job_twice_prints_once() -> None:
    sim = SimulatedPrinter()
    printer = make_printer(sim)
    first = printer.print_receipt(make_sale(), "sale:S1")
    second = printer.print_receipt(make_sale(), "sale:S1")
    assert (first.outcome, second.outcome) == ("printed", "duplicate")
    assert first.printed and not second.printed
    assert sim.cuts == 1


def test_different_jobs_each_print() -> None:
    sim = SimulatedPrinter()
    printer = make_printer(sim)
    printer.print_receipt(make_sale(), "sale:S1")
    printer.print_receipt(make_sale(), "reprint:S1:1")
    assert sim.cuts == 2


def test_dropout_right_after_the_write_does_not_print_twice() -> None:
    sim = FlakyPrinter()
    sim.drop_after = True
    printer = make_printer(sim)
    result = printer.print_receipt(make_sale(), "sale:S1")
    assert result.printed
    assert result.status.reason == "no_answer"  # the printer vanished after taking the job
    assert not printer.can_print()
    sim.unplugged = False  # back again; the checkout retries the same job
    assert printer.can_print()
    retry = printer.print_receipt(make_sale(), "sale:S1")
    assert retry.outcome == "duplicate"
    assert sim.cuts == 1


class PartWritePrinter(SimulatedPrinter):
    """pyserial on an RTS/CTS printer out of paper: half the job leaves, then the write times out."""

    fail_next = True

    def _raw(self, msg: bytes) -> None:
        is_query = len(msg) == 3 and msg[:2] == st.DLE_EOT
        if not is_query and self.fail_next:
            self.fail_next = False
            self.take(msg[: len(msg) // 2])
            raise serial.SerialTimeoutException("Write timeout")
        super()._raw(msg)


class UnopenablePrinter(SimulatedPrinter):
    """Answers the status check, then the cable is pulled and the job's open fails."""

    refuse_open = False
    drop_after_status = True
    _answered = 0

    def _read(self) -> bytes:
        reply = super()._read()
        self._answered += 1
        if self.drop_after_status and self._answered == len(st.QUERIES):
            self.drop_after_status = False
            self._device = False  # closed under us after the last status reply ...
            self.refuse_open = True  # ... and it will not open again for the job
        return reply

    def open(self, raise_not_found: bool = True) -> None:
        if self.refuse_open:
            raise OSError(errno.ENOENT, "No such file or directory: '/dev/usb/lp0'")
        super().open(raise_not_found)


def test_a_write_that_fails_part_way_is_not_resent() -> None:
    sim = PartWritePrinter()
    jobs = JobLog()
    printer = make_printer(sim, jobs)
    with pytest.raises(PrinterUnavailable) as info:
        printer.print_receipt(make_sale(), "sale:S1")
    assert info.value.maybe_printed and "may have printed" in str(info.value)
    assert info.value.status.reason == "no_answer"
    assert jobs.state("sale:S1") is JobState.SENDING  # uncertain, not "failed" (retryable)
    partial = len(sim.received)
    assert partial > 0 and sim.cuts == 0
    retry = printer.print_receipt(make_sale(), "sale:S1")
    assert retry.outcome == "uncertain" and not retry.printed and retry.bytes_sent == 0
    assert len(sim.received) == partial  # not a byte more: no partial receipt followed by a whole one
    assert jobs.state("sale:S1") is JobState.SENDING
    assert printer.print_receipt(make_sale(), "reprint:S1:1", reprint=True).printed  # staff reprint
    assert sim.cuts == 1


def test_a_link_dropping_during_the_write_is_uncertain_not_resent() -> None:
    sim = FlakyPrinter()
    sim.drop_during = True  # the transport cannot tell how much went before the error
    jobs = JobLog()
    printer = make_printer(sim, jobs)
    with pytest.raises(PrinterUnavailable) as info:
        printer.print_receipt(make_sale(), "sale:S1")
    assert info.value.maybe_printed
    assert jobs.state("sale:S1") is JobState.SENDING
    assert printer.print_receipt(make_sale(), "sale:S1").outcome == "uncertain"
    assert sim.received == b""


def test_a_printer_that_cannot_be_opened_for_the_job_is_retried() -> None:
    sim = UnopenablePrinter()
    jobs = JobLog()
    printer = make_printer(sim, jobs)
    with pytest.raises(PrinterUnavailable) as info:
        printer.print_receipt(make_sale(), "sale:S1")
    assert not info.value.maybe_printed and "cannot be opened" in str(info.value)
    assert info.value.status.reason == "no_answer"
    assert jobs.state("sale:S1") is JobState.FAILED  # nothing can have left: safe to retry
    assert sim.received == b""
    sim.refuse_open = False  # plugged back in
    assert printer.print_receipt(make_sale(), "sale:S1").printed
    assert printer.print_receipt(make_sale(), "sale:S1").outcome == "duplicate"
    assert sim.cuts == 1


def test_a_printer_that_cannot_be_opened_at_all_is_refused_and_retryable() -> None:
    sim = UnopenablePrinter()
    sim.drop_after_status = False
    sim.refuse_open = True
    sim._device = False
    jobs = JobLog()
    printer = make_printer(sim, jobs)
    with pytest.raises(PrinterUnavailable) as info:
        printer.print_receipt(make_sale(), "sale:S1")
    assert not info.value.maybe_printed and info.value.status.reason == "no_answer"
    assert jobs.state("sale:S1") is None
    sim.refuse_open = False
    assert printer.print_receipt(make_sale(), "sale:S1").printed
    assert sim.cuts == 1


def test_printer_fault_refuses_the_job_and_a_later_retry_prints(tmp_path: Path) -> None:
    sim = SimulatedPrinter(condition=st.PrinterCondition(paper="out"))
    printer = make_printer(sim)
    with pytest.raises(PrinterUnavailable) as info:
        printer.print_receipt(make_sale(), "sale:S1")
    assert info.value.status.reason == "paper_out"
    assert sim.received == b""  # nothing queued in the printer to come out later
    sim.set_condition(paper="ok")
    assert printer.print_receipt(make_sale(), "sale:S1").printed
    assert sim.cuts == 1


def test_job_ids_survive_a_restart(tmp_path: Path) -> None:
    sim = SimulatedPrinter()
    path = tmp_path / "printer-jobs.sqlite"
    with make_printer(sim, JobLog(path)) as printer:
        printer.print_receipt(make_sale(), "sale:S1")
    with make_printer(sim, JobLog(path)) as restarted:
        assert restarted.print_receipt(make_sale(), "sale:S1").outcome == "duplicate"
    assert sim.cuts == 1


def test_a_job_cut_short_by_power_loss_is_not_resent(tmp_path: Path) -> None:
    path = tmp_path / "printer-jobs.sqlite"
    JobLog(path).sending("sale:S1", "S1")  # the kiosk died mid-write
    sim = SimulatedPrinter()
    result = make_printer(sim, JobLog(path)).print_receipt(make_sale(), "sale:S1")
    assert result.outcome == "uncertain" and not result.printed
    assert sim.received == b""
