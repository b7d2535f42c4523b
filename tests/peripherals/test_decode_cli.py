"""``kiosk decode`` and ``kiosk camera test``, run through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.cli import main
from tests.peripherals.test_camera_decoder import F, frame_with, symbol


def write(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


def json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture
def images(tmp_path: Path) -> Path:
    write(tmp_path / "milk.png", frame_with((symbol("690123456789", F.EAN13, 2), 100, 100)))
    write(tmp_path / "shelf" / "two.jpg", frame_with((symbol("590123412345", F.EAN13, 3), 20, 20),
                                                     (symbol("M13800138000", F.QRCode, 4), 400, 300)))
    write(tmp_path / "shelf" / "deeper" / "upc.bmp", frame_with((symbol("03600029145", F.UPCA, 2), 50, 50)))
    write(tmp_path / "shelf" / "nothing.png", frame_with())
    (tmp_path / "shelf" / "notes.txt").write_text("not an image, and not listed")
    return tmp_path


def test_json_one_object_per_image_with_gtins(images: Path, capsys):
    assert main(["decode", "--json", str(images / "milk.png")]) == 0
    (record,) = json_lines(capsys.readouterr().out)
    assert record["file"] == str(images / "milk.png")
    assert record["codes"] == [{"symbology": "ean13", "text": "6901234567892", "gtin": "06901234567892"}]
    assert isinstance(record["ms"], float) and record["ms"] >= 0


def test_folders_are_searched_recursively(images: Path, capsys):
    assert main(["decode", "--json", str(images / "shelf")]) == 0
    records = {Path(r["file"]).name: r for r in json_lines(capsys.readouterr().out)}
    assert set(records) == {"two.jpg", "upc.bmp", "nothing.png"}
    assert {(c["symbology"], c["text"], c["gtin"]) for c in records["two.jpg"]["codes"]} == {
        ("ean13", "5901234123457", "05901234123457"), ("qr", "M13800138000", None)}
    assert records["upc.bmp"]["codes"] == [{"symbology": "upca", "text": "0036000291452", "gtin": "00036000291452"}]
    assert records["nothing.png"]["codes"] == []


def test_unreadable_files_are_reported_and_the_rest_still_decoded(images: Path, capsys):
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50)
    (images / "empty.jpg").write_bytes(b"")
    args = ["decode", "--json", str(images / "broken.png"), str(images / "empty.jpg"), str(images / "missing.png"),
            str(images / "milk.png")]
    assert main(args) == 2
    captured = capsys.readouterr()
    records = json_lines(captured.out)
    assert [Path(r["file"]).name for r in records] == ["broken.png", "empty.jpg", "missing.png", "milk.png"]
    for record in records[:3]:
        assert record["codes"] == [] and record["ms"] is None and record["error"]
    assert records[3]["codes"][0]["text"] == "6901234567892"
    assert "3 of 4 files could not be read" in captured.err
    assert "Traceback" not in captured.err


def test_binary_and_hostile_payloads_are_shown_safely(tmp_path: Path, capsys):
    write(tmp_path / "binary.png", frame_with((symbol(b"\x00\xff\xfe\x01", F.QRCode, 4), 100, 100)))
    write(tmp_path / "escape.png", frame_with((symbol("M1\x1b[2J\x07", F.QRCode, 4), 100, 100)))
    assert main(["decode", "--json", str(tmp_path)]) == 0
    records = {Path(r["file"]).name: r for r in json_lines(capsys.readouterr().out)}
    assert records["binary.png"]["codes"] == [{"symbology": "qr", "text": "00fffe01", "gtin": None, "binary": True}]
    assert records["escape.png"]["codes"][0]["text"] == "M1\x1b[2J\x07"  # JSON escapes it
    assert main(["decode", str(tmp_path / "escape.png")]) == 0
    line = capsys.readouterr().out
    assert "\x1b" not in line and "\\x1b[2J\\x07" in line


def test_text_output(images: Path, capsys):
    assert main(["decode", str(images / "milk.png"), str(images / "shelf" / "nothing.png")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{images / 'milk.png'}: ean13 6901234567892 (gtin 06901234567892)")
    assert out[1].startswith(f"{images / 'shelf' / 'nothing.png'}: no code")


def test_a_folder_without_images_is_a_user_error(tmp_path: Path, capsys):
    assert main(["decode", str(tmp_path)]) == 2
    assert "no images found" in capsys.readouterr().err


def test_camera_test_plays_a_video_and_shows_scans(tmp_path: Path, capsys):
    path = tmp_path / "counter.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    milk = frame_with((symbol("690123456789", F.EAN13, 2), 200, 150))
    for frame in [frame_with()] * 5 + [milk] * 25 + [frame_with()] * 5:
        writer.write(frame)
    writer.release()
    assert main(["camera", "test", "--device", str(path), "--seconds", "30", "--json"]) == 0
    records = json_lines(capsys.readouterr().out)
    assert [r["text"] for r in records if r["event"] == "scan"] == ["6901234567892"]


def test_camera_test_with_no_camera_is_a_user_error(capsys):
    assert main(["camera", "test", "--device", "/dev/video99", "--seconds", "30"]) == 2
    assert "cannot be opened" in capsys.readouterr().err


def png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that claims ``width`` x ``height`` pixels: signature, IHDR, one tiny IDAT, IEND.
    A few dozen bytes; decoding it would need width * height * 3 bytes."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.timeout(60)
def test_an_image_over_50_megapixels_is_refused_by_its_header(images: Path, capsys):
    big = png_header(images / "big.png", 8000, 8000)  # 64 MP: under Pillow's and OpenCV's limits
    huge = png_header(images / "huge.png", 30000, 30000)  # 900 MP: 2.7 GB decoded
    assert main(["decode", "--json", str(big), str(huge), str(images / "milk.png")]) == 2
    captured = capsys.readouterr()
    records = json_lines(captured.out)
    assert "8000x8000" in records[0]["error"] and "50 megapixels" in records[0]["error"]
    assert "too large" in records[1]["error"]
    assert records[2]["codes"][0]["text"] == "6901234567892"
    assert "Traceback" not in captured.err


@pytest.mark.timeout(60)
def test_a_fifo_and_a_device_are_refused_without_reading_them(images: Path, capsys):
    import os

    fifo = images / "camera.png"
    os.mkfifo(fifo)  # nobody ever writes: reading it would hang the run
    assert main(["decode", "--json", str(fifo), "/dev/zero", str(images / "milk.png")]) == 2
    records = json_lines(capsys.readouterr().out)
    assert [r.get("error") for r in records[:2]] == ["not a regular file", "not a regular file"]
    assert records[2]["codes"][0]["text"] == "6901234567892"


def test_opencv_and_decoder_errors_cost_only_their_file(images: Path, capsys, monkeypatch):
    from kiosk.peripherals.camera import Decoder

    real_imdecode, real_decode = cv2.imdecode, Decoder.decode
    write(images / "opencv.png", frame_with())
    write(images / "decoder.png", frame_with((symbol("590123412345", F.EAN13, 2), 100, 100)))

    def imdecode(data, flags):
        if len(data) == (images / "opencv.png").stat().st_size:
            raise cv2.error("OpenCV(4.x) imgcodecs: image size exceeds the limit")
        return real_imdecode(data, flags)

    def decode(self, image):
        codes = real_decode(self, image)
        if any(c.text == "5901234123457" for c in codes):
            raise RuntimeError("engine crashed")
        return codes

    monkeypatch.setattr(cv2, "imdecode", imdecode)
    monkeypatch.setattr(Decoder, "decode", decode)
    args = ["decode", "--json", str(images / "opencv.png"), str(images / "decoder.png"), str(images / "milk.png")]
    assert main(args) == 2
    records = json_lines(capsys.readouterr().out)
    assert "exceeds the limit" in records[0]["error"]
    assert "engine crashed" in records[1]["error"]
    assert records[2]["codes"][0]["text"] == "6901234567892"
