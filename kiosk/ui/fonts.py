"""The UI font: one that has Chinese glyphs, or every Chinese label shows as boxes ("tofu").

Kivy's bundled Roboto has no CJK glyphs, so a CJK font replaces Kivy's default font for every
widget. The first file found wins: ``$KIOSK_UI_FONT``, Simplified Chinese Noto faces, the
``fonts-noto-cjk`` collection, then other common CJK fonts. Kivy's SDL2 text provider opens only
the first face of a ``.ttc`` collection (Noto Sans CJK JP for the Debian file), which covers all
simplified characters; a standalone SC ``.otf`` is preferred when present.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

log = logging.getLogger("kiosk.ui.fonts")

CANDIDATES: tuple[tuple[str, str | None], ...] = (
    # (regular, bold or None)
    ("/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf", "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Bold.otf"),
    ("/usr/share/fonts/opentype/noto/NotoSansSC-Regular.otf", "/usr/share/fonts/opentype/noto/NotoSansSC-Bold.otf"),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc"),
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc"),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", None),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", None),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", None),
)


def find_cjk_font(env: Mapping[str, str] = os.environ,
                  candidates: Iterable[tuple[str, str | None]] = CANDIDATES) -> tuple[Path, Path | None] | None:
    """(regular, bold) font files to use, or None when no CJK font is installed."""
    chosen = env.get("KIOSK_UI_FONT", "").strip()
    if chosen:
        path = Path(chosen)
        if path.is_file():
            return path, None
        log.warning("KIOSK_UI_FONT=%s is not a file; looking for an installed CJK font", chosen)
    for regular, bold in candidates:
        path = Path(regular)
        if path.is_file():
            bold_path = Path(bold) if bold and Path(bold).is_file() else None
            return path, bold_path
    return None


def install_default_font() -> Path | None:
    """Make the CJK font Kivy's default for every widget (needs Kivy); returns the file used."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    found = find_cjk_font()
    if found is None:
        log.warning("no CJK font found (looked for $KIOSK_UI_FONT and %d known paths); Chinese text "
                    "will show as boxes: install fonts-noto-cjk", len(CANDIDATES))
        return None
    regular, bold = found
    LabelBase.register(DEFAULT_FONT, str(regular), fn_bold=str(bold) if bold else None)
    log.info("UI font %s%s", regular, f" (bold {bold})" if bold else "")
    return regular
