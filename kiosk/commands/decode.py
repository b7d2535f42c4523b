"""``kiosk decode [--json] PATH...``: read the barcodes in image files with the camera's pipeline.

Folders are searched recursively for images (PNG, JPEG, BMP, TIFF, WebP, PGM/PPM). Each image
gives one line; with ``--json`` one object
``{"file": ..., "codes": [{"symbology": ..., "text": ..., "gtin": ...}], "ms": <decode ms>}``
where ``gtin`` is the GTIN-14 of a product code (null otherwise) and ``ms`` the decode time.
A file that cannot be read is reported on its own line (``"error"``, ``"codes": []``,
``"ms": null``) and the others are still decoded; the exit status is then 2. Unreadable covers
what is not a regular file (a FIFO, a device such as /dev/zero: never read), an image over
50 megapixels by its header (never decoded: a 30000x30000 PNG would take 8 GB), and an image
that OpenCV or the barcode decoders fail on.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kiosk import barcodes
from kiosk.commands._common import print_json
from kiosk.errors import UserError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm", ".pnm"}
MAX_FILE_BYTES = 200 * 1024 * 1024  # a camera frame is well under this; bigger is not a photo
MAX_PIXELS = 50_000_000  # 50 megapixels (150 MB decoded); a phone photo is 12-48


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("decode", help="decode barcodes in image files or folders",
                                   description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image file or folder (searched recursively)")
    parser.add_argument("--json", action="store_true", help="one JSON object per image")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kiosk.peripherals.camera import Decoder  # cv2/zbar load only for this command

    decoder = Decoder()
    total = failed = 0
    for path, problem in _images(args.paths):
        total += 1
        result = _decode_one(decoder, path) if problem is None else _failure(path, problem)
        if "error" in result:
            failed += 1
        _show(result, args.json)
    if total == 0:
        raise UserError("no images found in " + ", ".join(args.paths) + "; give image files or folders holding them")
    if failed:
        print(f"kiosk: error: {failed} of {total} files could not be read (see their lines above)",
              file=sys.stderr)
        return 2
    return 0


def _images(paths: list[str]) -> Iterator[tuple[Path, str | None]]:
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
                yield found, None
        elif path.exists():
            yield path, None
        else:
            yield path, "no such file or folder"


def _decode_one(decoder: Any, path: Path) -> dict[str, Any]:
    data = _read_image_file(path)
    if isinstance(data, str):
        return _failure(path, data)
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR) if data else None
    except cv2.error as exc:  # e.g. over OpenCV's own pixel limit
        return _failure(path, "OpenCV cannot decode it: " + _first_line(exc))
    if image is None or image.size == 0:
        return _failure(path, "not an image, or a damaged one")
    start = time.perf_counter()
    try:
        codes = decoder.decode(image)
    except Exception as exc:  # a decoder bug costs this file, never the run
        return _failure(path, f"the barcode decoder failed: {type(exc).__name__}: {_first_line(exc)}")
    ms = (time.perf_counter() - start) * 1000
    return {"file": str(path), "codes": [_code(c) for c in codes], "ms": round(ms, 2)}


def _read_image_file(path: Path) -> bytes | str:
    """The bytes of an image file, or why it is refused: not a regular file (opened without
    blocking, so a FIFO cannot hang the run), too large a file, or too many pixels by its header."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return exc.strerror or str(exc)
    with os.fdopen(fd, "rb") as file:
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return "not a regular file"
            if info.st_size > MAX_FILE_BYTES:
                return "file too large for an image"
            problem = _header_problem(file)
            if problem:
                return problem
            file.seek(0)
            return file.read()
        except OSError as exc:
            return exc.strerror or str(exc)


def _header_problem(file: Any) -> str | None:
    """Why the image is too large by its header alone (Pillow reads only the header), else None;
    also None when Pillow does not know the format (OpenCV then tries it, under its own limit)."""
    from PIL import Image

    limit = f"the limit is {MAX_PIXELS // 1_000_000} megapixels"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(file) as image:
                width, height = image.size
    except Image.DecompressionBombError:  # over Pillow's own limit, far over ours
        return f"image too large: over {2 * (Image.MAX_IMAGE_PIXELS or 0) // 1_000_000} megapixels ({limit})"
    except Exception:  # not a format Pillow reads, or a damaged header
        return None
    if width * height > MAX_PIXELS:
        return f"image too large: {width}x{height} pixels ({limit})"
    return None


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:200]


def _code(code: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"symbology": code.symbology, "text": code.text, "gtin": None}
    if code.binary:
        out["binary"] = True  # text is the payload's hex
        return out
    result = barcodes.parse_scan(code.text, None, code.symbology)
    if isinstance(result, barcodes.Product):
        out["gtin"] = result.gtin
    elif isinstance(result, barcodes.VariableMeasure):
        out["gtin"] = barcodes.to_gtin14(code.text)
    return out


def _failure(path: Path, problem: str) -> dict[str, Any]:
    return {"file": str(path), "error": problem, "codes": [], "ms": None}


def _show(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    if "error" in result:
        print(f"{result['file']}: cannot read: {result['error']}", flush=True)
        return
    codes = result["codes"]
    found = "; ".join(f"{c['symbology']} {_printable(c['text'])}" + (f" (gtin {c['gtin']})" if c["gtin"] else "")
                      for c in codes) or "no code"
    print(f"{result['file']}: {found}  [{result['ms']:.1f} ms]", flush=True)


def _printable(text: str) -> str:
    """Control characters shown escaped, so a hostile code cannot drive the terminal."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
