"""``python -m gnitails ...``: the ``gnitails`` command, for when its script is not on PATH."""

import sys

from gnitails.cli import main

sys.exit(main())
