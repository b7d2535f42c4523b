"""MT-SICS: S/SI/Z/T/TAC replies and error lines; bad lines never weigh."""

from __future__ import annotations

import pytest

from kiosk.peripherals.scale.mtsics import MtSics, MtSicsParser, weight_line
from kiosk.peripherals.scale.reading import Command, Frame, FrameKind, Indication, Status
from kiosk.peripherals.scale.simulator import ScaleModel

P = MtSics()


def parse(data: bytes) -> list[Frame]:
    return MtSicsParser().feed(data)


def one(data: bytes) -> Frame:
    frames = parse(data)
    assert len(frames) == 1, frames
    return frames[0]


def test_settings_and_requests() -> None:
    assert str(P.settings) == "9600 8N1"
    assert P.request(Command.WEIGH) == b"SI\r\n"  # immediate, so motion shows as S D
    assert P.request(Command.ZERO) == b"Z\r\n"
    assert P.request(Command.TARE) == b"T\r\n"
    assert P.request(Command.CLEAR_TARE) == b"TAC\r\n"


@pytest.mark.parametrize(("line", "status", "grams", "motion"), [
    (b"S S     100.00 g\r\n", Status.OK, 100, False),
    (b"S S      0.512 kg\r\n", Status.OK, 512, False),
    (b"S D      0.498 kg\r\n", Status.MOTION, 498, True),
    (b"S S   1500 mg\r\n", Status.OK, 2, False),  # 1.5 g -> 2 (half-even)
    (b"S S 0.000 kg\r\n", Status.OK, 0, False),
    (b"S S     100.00 g\n", Status.OK, 100, False),  # LF alone
])
def test_weight_replies(line: bytes, status: Status, grams: int, motion: bool) -> None:
    frame = one(line)
    assert (frame.kind, frame.status, frame.weight_g, frame.motion) == (
        FrameKind.READING, status, grams, motion)


@pytest.mark.parametrize(("line", "status"), [
    (b"S +\r\n", Status.OVER_CAPACITY), (b"S -\r\n", Status.UNDER_ZERO), (b"S I\r\n", Status.ERROR),
    (b"S S     -2.50 g\r\n", Status.UNDER_ZERO), (b"S D    -0.010 kg\r\n", Status.UNDER_ZERO),
    (b"S S      1.000 lb\r\n", Status.ERROR),
])
def test_no_weight_replies(line: bytes, status: Status) -> None:
    frame = one(line)
    assert (frame.status, frame.weight_g) == (status, None)


@pytest.mark.parametrize(("line", "tag"), [
    (b"Z A\r\n", "Z A"), (b"Z I\r\n", "Z I"), (b"Z +\r\n", "Z +"), (b"Z -\r\n", "Z -"),
    (b"T S      0.100 kg\r\n", "T S"), (b"T I\r\n", "T I"), (b"T +\r\n", "T +"),
    (b"TAC A\r\n", "TAC A"), (b"TAC I\r\n", "TAC I"), (b"ZI D\r\n", "ZI D"),
])
def test_command_acknowledgements(line: bytes, tag: str) -> None:
    frame = one(line)
    assert (frame.kind, frame.tag, frame.weight_g) == (FrameKind.ACK, tag, None)


def test_accepted_only_on_the_positive_answer() -> None:
    assert P.accepted(Command.ZERO, one(b"Z A\r\n"))
    for line in (b"Z I\r\n", b"Z +\r\n", b"Z -\r\n", b"ES\r\n", b"T S 0.1 kg\r\n"):
        assert not P.accepted(Command.ZERO, one(line))
    assert P.accepted(Command.TARE, one(b"T S      0.100 kg\r\n"))
    assert not P.accepted(Command.TARE, one(b"T I\r\n"))
    assert P.accepted(Command.CLEAR_TARE, one(b"TAC A\r\n"))
    assert not P.accepted(Command.CLEAR_TARE, one(b"TAC I\r\n"))


@pytest.mark.parametrize("line", [b"ES\r\n", b"ET\r\n", b"EL\r\n"])
def test_error_lines_are_rejections(line: bytes) -> None:
    assert one(line).kind is FrameKind.REJECTED


def test_identification_and_empty_lines_are_skipped() -> None:
    assert parse(b'I4 A "0123456789"\r\n\r\n   \r\n') == []


@pytest.mark.parametrize("line", [
    b"S X 1.0 kg\r\n", b"S S\r\n", b"S S 1.0\r\n", b"S S abc g\r\n", b"S S 1.0 kg extra\r\n",
    b"X S 1.0 kg\r\n", b"S S 1.0 furlong\r\n", b"S S 1..0 kg\r\n", b"s s 1.0 kg\r\n",
    b"S S 1.0\x00 kg\r\n",
])
def test_malformed_lines_are_garbled(line: bytes) -> None:
    frame = one(line)
    assert frame.kind is FrameKind.GARBLED and frame.weight_g is None


def test_parity_artefacts_never_give_a_weight() -> None:
    assert one(b"S S      0.5\xb312 kg\r\n").kind is FrameKind.GARBLED
    assert one(b"\xd3 S      0.512 kg\r\n").kind is FrameKind.GARBLED


def test_overlong_line_then_resync() -> None:
    frames = parse(b"S S " + b"1" * 100 + b" g\r\nS S 0.100 kg\r\n")
    assert frames[0].kind is FrameKind.GARBLED
    assert [f.weight_g for f in frames[1:]] == [100]


def test_cut_line_after_flush_is_not_a_weight() -> None:
    # The tail of an earlier line arrives first: it is garbled, never a weight.
    frames = parse(b"512 kg\r\nS S      0.300 kg\r\n")
    assert [f.weight_g for f in frames] == [None, 300]


def test_split_feeding_is_the_same() -> None:
    data = b"S S 0.5 kg\r\nS D 0.4 kg\r\nZ A\r\nES\r\nS +\r\n"
    whole = parse(data)
    for cut in range(len(data) + 1):
        parser = MtSicsParser()
        assert parser.feed(data[:cut]) + parser.feed(data[cut:]) == whole


def test_encoder_round_trip() -> None:
    assert one(weight_line(Indication(4876))).weight_g == 4876
    assert one(weight_line(Indication(4876, motion=True))).status is Status.MOTION
    assert one(weight_line(Indication(4876, motion=True), stable_only=True)).tag == "S I"
    assert one(weight_line(Indication(-1))).status is Status.UNDER_ZERO
    assert one(weight_line(Indication(1, over_capacity=True))).status is Status.OVER_CAPACITY


def test_device_side() -> None:
    device = P.device()
    model = ScaleModel()
    model.load_g = 250
    assert device.feed(b"SI\r\nS\r\nZ\r\nT\r\nTAC\r\nXYZ\r\n") == ["SI", "S", "Z", "T", "TAC", "XYZ"]
    assert one(device.respond("SI", model)).weight_g == 250
    model.load_g = 400  # beyond the capture range (2 % of 15 kg = 300 g)
    assert device.respond("Z", model) == b"Z +\r\n"
    model.load_g = 250
    assert device.respond("Z", model) == b"Z A\r\n"
    assert one(device.respond("SI", model)).weight_g == 0
    model.load_g = 370  # 120 g above the new zero
    assert P.accepted(Command.TARE, one(device.respond("T", model)))
    assert one(device.respond("SI", model)).weight_g == 0
    assert device.respond("TAC", model) == b"TAC A\r\n"
    model.motion = True
    assert device.respond("Z", model) == b"Z I\r\n"
    assert device.respond("XYZ", model) == b"ES\r\n"
