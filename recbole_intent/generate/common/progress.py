"""One log line per step of a long Stage 1 loop (the warm-up training, P1 refinement, the P&C loop, the views):
'what: k/N unit, X s elapsed, about Y left', so that a run that takes minutes says where it is."""

import logging
import time

logger = logging.getLogger("recbole_intent.generate")


def duration(seconds):
    """12 s, 3.4 min, 1.2 h."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


class Progress:
    """``step(done)`` logs at most once every ``every_s`` seconds (always at the end); the estimate of the time left
    assumes the pace so far: elapsed / done x (total - done)."""

    def __init__(self, what, total, unit, every_s=0.0, clock=time.perf_counter):
        self.what, self.total, self.unit, self.every_s, self.clock = what, int(total), unit, every_s, clock
        self.started = self.clock()
        self.last = None

    def line(self, done, extra="", now=None):
        elapsed = (self.clock() if now is None else now) - self.started
        text = f"{self.what}: {done}/{self.total} {self.unit}{extra}, {duration(elapsed)} elapsed"
        if 0 < done < self.total:
            text += f", about {duration(elapsed / done * (self.total - done))} left"
        return text

    def step(self, done, extra=""):
        now = self.clock()
        if done < self.total and self.last is not None and now - self.last < self.every_s:
            return
        self.last = now
        logger.info(self.line(done, extra, now))
