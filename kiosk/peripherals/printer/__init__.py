"""Receipt printer: ESC/POS via python-escpos, own DLE EOT status, job ids, PNG preview.

Pure parts: ``status`` (DLE EOT decoding), ``text`` (display widths), ``receipt`` (layout),
``escpos_out`` (bytes), ``uri`` (parsing). I/O: ``link`` (transport), ``jobs`` (durable job ids),
``printer`` (``ReceiptPrinter``), ``png`` (preview), ``simulator`` (in-process and pty printers).
"""

from kiosk.peripherals.printer.jobs import JobLog, JobState
from kiosk.peripherals.printer.printer import PrinterUnavailable, PrintResult, ReceiptPrinter
from kiosk.peripherals.printer.receipt import Receipt, ReceiptSettings, layout_sale
from kiosk.peripherals.printer.simulator import PtyPrinter, SimulatedPrinter
from kiosk.peripherals.printer.status import PrinterCondition, PrinterStatus
from kiosk.peripherals.printer.uri import PrinterURIError, open_printer, parse_uri

__all__ = [
    "JobLog", "JobState", "PrintResult", "PrinterCondition", "PrinterStatus", "PrinterURIError",
    "PrinterUnavailable", "PtyPrinter", "Receipt", "ReceiptPrinter", "ReceiptSettings",
    "SimulatedPrinter", "layout_sale", "open_printer", "parse_uri",
]
