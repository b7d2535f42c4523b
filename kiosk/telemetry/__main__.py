"""``python -m kiosk.telemetry``: the demo kiosk of ``kiosk.telemetry.demo``."""

import sys

from kiosk.telemetry.demo import main

sys.exit(main())
