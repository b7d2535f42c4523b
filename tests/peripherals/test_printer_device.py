"""ReceiptPrinter over real transports: status between jobs, alerts posted, simulators."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.config import Config, load_config
from kiosk.events import DeviceState
from kiosk.peripherals.printer import (
    JobLog,
    PrinterUnavailable,
    PtyPrinter,
    ReceiptPrinter,
    SimulatedPrinter,
)
from kiosk.peripherals.printer import status as st
from kiosk.peripherals.printer.link import PrinterLink
from kiosk.peripherals.printer.receipt import ReceiptSettings
from kiosk.peripherals.printer.simulator import _PrinterModel
from tests.peripherals.test_printer_receipt import make_sale

SETTINGS = ReceiptSettings(store="Demo Store 演示店", kiosk_id="kiosk-001")


def sim_printer(sim: SimulatedPrinter, posted: list[object]) -> ReceiptPrinter:
    return ReceiptPrinter(PrinterLink(sim, "sim"), SETTINGS, post=posted.append)


def test_alerts_are_posted_once_per_change() -> None:
    posted: list[object] = []
    sim = SimulatedPrinter()
    printer = sim_printer(sim, posted)
    printer.status()
    printer.status()
    sim.set_condition(paper="near_end")
    printer.status()
    printer.status()
    sim.set_condition(paper="out")
    assert not printer.can_print()
    sim.set_condition(paper="ok", cover_open=True)
    printer.status()
    sim.set_condition(cover_open=False)
    sim.silent = True
    printer.status()
    sim.silent = False
    printer.status()
    assert posted == [
        DeviceState("printer", "ok", ""),
        DeviceState("printer", "warning", "paper_near_end"),
        DeviceState("printer", "fault", "paper_out"),
        DeviceState("printer", "fault", "cover_open"),
        DeviceState("printer", "fault", "no_answer"),
        DeviceState("printer", "ok", ""),
    ]


def test_near_end_still_prints_with_a_warning() -> None:
    posted: list[object] = []
    sim = SimulatedPrinter(condition=st.PrinterCondition(paper="near_end"))
    result = sim_printer(sim, posted).print_receipt(make_sale(), "j1")
    assert result.printed and result.status.reason == "paper_near_end"
    assert posted == [DeviceState("printer", "warning", "paper_near_end")]


@pytest.mark.parametrize("setup, reason", [
    (lambda s: setattr(s, "silent", True), "no_answer"),
    (lambda s: setattr(s, "garbage", b"\xff"), "bad_answer"),
    (lambda s: setattr(s, "unplugged", True), "no_answer"),
    (lambda s: s.set_condition(cover_open=True), "cover_open"),
    (lambda s: s.set_condition(autocutter_error=True), "cutter_error"),
])
def test_faults_stop_printing(setup, reason: str) -> None:  # type: ignore[no-untyped-def]
    sim = SimulatedPrinter()
    setup(sim)
    printer = sim_printer(sim, [])
    assert printer.status().reason == reason
    assert not printer.can_print()
    with pytest.raises(PrinterUnavailable):
        printer.print_receipt(make_sale(), "j1")
    assert sim.cuts == 0


def test_unreadable_transport_prints_with_status_unknown(tmp_path: Path) -> None:
    path = tmp_path / "r.bin"
    printer = ReceiptPrinter.from_config(Config(), uri=f"file:{path}", jobs=JobLog())
    assert printer.status().health == (st.Health.WARNING, "status_unknown")
    assert printer.can_print()
    result = printer.print_receipt(make_sale(), "j1")
    printer.close()
    assert result.printed
    assert path.read_bytes().endswith(b"\x1dV\x01")
    assert b"\x10\x04" not in path.read_bytes()  # no status queries written into the file


def test_from_config_keeps_job_ids_in_the_data_dir(tmp_path: Path) -> None:
    cfg = load_config(None, {"kiosk": {"data_dir": str(tmp_path)}, "printer": {"uri": "dummy:"}})
    with ReceiptPrinter.from_config(cfg) as printer:
        printer.print_receipt(make_sale(), "j1")
    assert (tmp_path / "printer-jobs.sqlite").is_file()


def test_simulated_kiosk_printer_writes_bytes_and_png(tmp_path: Path) -> None:
    posted: list[object] = []
    printer = ReceiptPrinter.simulated(Config(), tmp_path / "printer", post=posted.append)
    assert printer.simulator is not None
    result = printer.print_receipt(make_sale(), "sale:S-20240501-0001")
    assert result.printed
    assert (tmp_path / "printer" / "receipts.bin").read_bytes() == bytes(printer.simulator.received)
    assert (tmp_path / "printer" / "S-20240501-0001.png").stat().st_size > 1000
    printer.simulator.set_condition(paper="out")
    assert not printer.can_print()
    assert posted[-1] == DeviceState("printer", "fault", "paper_out")


def test_watch_polls_until_stopped() -> None:
    posted: list[object] = []
    sim = SimulatedPrinter()
    printer = sim_printer(sim, posted)
    stop = threading.Event()
    thread = threading.Thread(target=printer.watch, args=(stop, 0.01))
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while not posted and time.monotonic() < deadline:
            time.sleep(0.01)
        sim.set_condition(paper="near_end")
        while len(posted) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert posted[:2] == [DeviceState("printer", "ok", ""), DeviceState("printer", "warning", "paper_near_end")]


# --- serial, through a pty: python-escpos Serial + pyserial on the kiosk side -------------------

@pytest.fixture
def pty_printer(tmp_path: Path) -> Iterator[PtyPrinter]:
    with PtyPrinter(tmp_path / "pty.bin") as sim:
        yield sim


def wait_for(predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_serial_status_and_print_end_to_end(pty_printer: PtyPrinter) -> None:
    posted: list[object] = []
    printer = ReceiptPrinter.from_config(Config(), uri=f"serial:{pty_printer.port}?baudrate=115200",
                                         jobs=JobLog(), post=posted.append)
    try:
        assert printer.status().health == (st.Health.OK, "")
        assert printer.print_receipt(make_sale(), "j1").printed
        assert wait_for(lambda: pty_printer.cuts == 1)
        assert "可口可乐".encode("gb18030") in pty_printer.received
        assert b"\x10\x04" not in pty_printer.received  # queries were answered, not printed
        pty_printer.set_condition(paper="near_end")
        assert printer.status().reason == "paper_near_end"
        pty_printer.set_condition(paper="out")
        assert printer.status().reason == "paper_out"
        pty_printer.set_condition(paper="ok")
        pty_printer.silent = True
        started = time.monotonic()
        assert printer.status().reason == "no_answer"
        assert time.monotonic() - started < 3  # one short wait, not four, not 60 s
        pty_printer.silent = False
        assert printer.status().reason == ""
        pty_printer.close()  # unplug
        assert printer.status().reason == "no_answer"
        with pytest.raises(PrinterUnavailable):
            printer.print_receipt(make_sale(), "j2")
    finally:
        printer.close()
    assert [p.reason for p in posted if isinstance(p, DeviceState)] == [
        "", "paper_near_end", "paper_out", "no_answer", "", "no_answer"]


def test_pty_answers_queries_inside_a_stream(tmp_path: Path) -> None:
    model = PtyPrinter()
    try:
        rest = model._consume(b"abc\x10\x04\x04def\x10")
        assert rest == b"\x10"
        assert model._consume(rest + b"\x04\x01xyz") == b""
        assert bytes(model.received) == b"abcdefxyz"
    finally:
        model.close()


# --- tcp: a printer on the network ------------------------------------------------------------

class TcpPrinter(_PrinterModel):
    def __init__(self) -> None:
        super().__init__(None, None)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            while data := conn.recv(4096):
                i = data.find(st.DLE_EOT)
                if i >= 0 and len(data) >= i + 3:
                    answer = self.reply(data[i + 2])
                    if answer:
                        conn.sendall(answer)
                    data = data[:i] + data[i + 3:]
                self.take(data)


def test_tcp_status_and_print() -> None:
    sim = TcpPrinter()
    printer = ReceiptPrinter.from_config(Config(), uri=f"tcp://127.0.0.1:{sim.port}", jobs=JobLog())
    try:
        assert printer.status().reason == ""
        sim.set_condition(paper="near_end")
        assert printer.status().reason == "paper_near_end"
        assert printer.print_receipt(make_sale(), "j1").printed
        assert wait_for(lambda: sim.cuts == 1)
        sim.silent = True
        assert printer.status().reason == "no_answer"
    finally:
        printer.close()
        sim.server.close()
