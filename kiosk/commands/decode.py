"""``kiosk decode [--json] PATH...``: read the barcodes in image files with the camera's pipeline.

Folders are searched recursively for images (PNG, JPEG, BMP, TIFF, WebP, PGM/PPM). Each image
gives one line; with ``--json`` one object
``{"file": ..., "codes": [{"symbology": ..., "text": ..., "gtin": ...}], "ms": <decode ms>}``
where ``gtin`` is the GTIN-14 of a product code (null otherwise) and ``ms`` the decode time.
A file that cannot be read is reported on its own line (``"error"``, ``"codes": []``,
``"ms": null``) and the others are still decoded; the exit status is then 2.
"""

from __future__ import annotations

import argparse
import sys
import time
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
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return _failure(path, "file too large for an image")
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        return _failure(path, exc.strerror or str(exc))
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None or image.size == 0:
        return _failure(path, "not an image, or a damaged one")
    start = time.perf_counter()
    codes = decoder.decode(image)
    ms = (time.perf_counter() - start) * 1000
    return {"file": str(path), "codes": [_code(c) for c in codes], "ms": round(ms, 2)}


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
