"""Console progress for long loops: step, percentage, rate and ETA, throttled in time."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


class Progress:
    """Report ``label step/total (pct) rate ETA`` at most every ``every_s`` seconds.

    The rate counts only steps run in this process, so a resumed run gets an honest ETA.
    """

    def __init__(
        self,
        label: str,
        total: int,
        start: int = 0,
        every_s: float = 10.0,
        log: Callable[[str], None] = stderr_log,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.label, self.total, self.start = label, total, start
        self.every_s, self.log, self.clock = every_s, log, clock
        self.t0 = self.last = clock()

    def line(self, step: int, extra: str = "") -> str:
        elapsed = self.clock() - self.t0
        done = step - self.start
        rate = done / elapsed if elapsed > 0 and done > 0 else float("nan")
        eta = (self.total - step) / rate if rate == rate and rate > 0 else float("nan")
        eta_text = format_duration(eta) if eta == eta else "?"
        pct = 100.0 * step / self.total if self.total else 100.0
        text = (
            f"{self.label} step {step}/{self.total} ({pct:.1f}%) {rate:.1f} steps/s ETA {eta_text}"
        )
        return f"{text} {extra}".rstrip()

    def update(self, step: int, extra: str = "", force: bool = False) -> None:
        now = self.clock()
        if force or now - self.last >= self.every_s or step == self.total:
            self.last = now
            self.log(self.line(step, extra))
