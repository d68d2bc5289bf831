"""A quiet console for VUnit runs: one progress line per phase instead of a line per file
and per test.

VUnit prints every compiled file, "Starting"/"Output file"/"pass" lines for every test and
a summary block: some 800 lines for the example networks, with colour codes even into a
file. QuietConsole stands in for sys.stdout while VUnit runs and turns that into

    compiled 412 files (38.2 s)
    simulating: 40 of 60 tests done
    simulated 60 tests: all passed (22.4 s)

Everything it does not recognise passes through unchanged: a failing test's "fail" line
and its output, compile errors (with the compile lines before them), and the caller's own
output (the summary table). `vunit_run.py -v` does not use it: VUnit's full output then.
"""
from __future__ import annotations

import re
import sys
import time
from typing import TextIO

ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
PROGRESS_EVERY_S = 10.0   # without a terminal: a progress line at most this often

_DROP_RE = re.compile(r"^(Running test: |Starting |Output file: |=+\s*$|Total time |"
                      r"Elapsed time |pass \d+ of \d+|skip \d+ of \d+|fail \d+ of \d+)")


class QuietConsole:
    """A file-like object: give it VUnit's output, it writes the short form to `out`."""

    def __init__(self, out: TextIO | None = None, live: bool | None = None) -> None:
        self.out = out if out is not None else sys.stdout
        self.live = self.out.isatty() if live is None else live   # rewrite one line in place
        self._partial = ""
        self._compile_lines: list[str] = []
        self._passthrough = False       # after a compile failure: show everything
        self._in_summary = False
        self._total = 0
        self._done = 0
        self._failed = 0
        self._t0 = time.perf_counter()
        self._t_sim = self._t0
        self._last_progress = 0.0
        self._progress_shown = False

    # -- the file interface VUnit uses
    def write(self, text: str) -> int:
        self._partial += text
        while "\n" in self._partial:
            line, self._partial = self._partial.split("\n", 1)
            self._line(line)
        return len(text)

    def flush(self) -> None:
        self.out.flush()

    def isatty(self) -> bool:
        return False    # VUnit then writes no colour codes of its own through us

    def close(self) -> None:
        if self._partial:
            self._line(self._partial)
            self._partial = ""
        self._end_progress()

    # -- what it does with a line
    def _emit(self, text: str) -> None:
        self._end_progress()
        self.out.write(text + "\n")
        self.out.flush()

    def _end_progress(self) -> None:
        if self.live and self._progress_shown:
            self.out.write("\n")
            self._progress_shown = False

    def _progress(self, force: bool = False) -> None:
        text = f"simulating: {self._done} of {self._total or '?'} tests done"
        if self._failed:
            text += f", {self._failed} failed"
        now = time.perf_counter()
        if self.live:
            self.out.write("\r" + text)
            self.out.flush()
            self._progress_shown = True
        elif force or now - self._last_progress >= PROGRESS_EVERY_S:
            self.out.write(text + "\n")
            self.out.flush()
            self._last_progress = now

    def _line(self, raw: str) -> None:
        line = ANSI_RE.sub("", raw).rstrip("\r")
        text = line.strip()
        if self._passthrough:
            self._emit(line)
            return
        if text.startswith("Compiling into "):
            self._compile_lines.append(line)
            if text.endswith("failed"):
                for kept in self._compile_lines:   # the compile error comes with its context
                    self._emit(kept)
                self._passthrough = True
            return
        if text == "Compile passed":
            self._emit(f"compiled {len(self._compile_lines)} files "
                       f"({time.perf_counter() - self._t0:.1f} s)")
            return
        if text == "Re-compile not needed":
            self._emit("compiled: nothing to re-compile")
            return
        if text == "Compile failed":
            self._emit(line)
            self._passthrough = True
            return
        m = re.match(r"Running (\d+) tests?$", text)
        if m:
            self._total = int(m.group(1))
            self._t_sim = time.perf_counter()
            self._last_progress = self._t_sim
            return
        if text.startswith("==== Summary"):
            self._in_summary = True
            return
        if text in ("All passed!", "Some failed!"):
            self._in_summary = False
            seconds = time.perf_counter() - self._t_sim
            verdict = ("all passed" if text == "All passed!" else
                       f"{self._failed} FAILED (their output is above)")
            self._emit(f"simulated {self._done} tests: {verdict} ({seconds:.1f} s)")
            return
        if text.startswith("Starting ") and not self._done and self._t_sim == self._t0:
            self._t_sim = self._last_progress = time.perf_counter()
        if not text or _DROP_RE.match(text):
            return
        if self._in_summary:
            if text.startswith(("pass ", "skip ")):
                return
            return                 # a fail line of the summary: shown when it happened
        counts = re.match(r"(pass|skip|fail) \(P=\d+ S=\d+ F=\d+ T=(\d+)\)", text)
        if counts:
            self._total = int(counts.group(2))
        if text.startswith(("pass (P=", "skip (P=")):
            self._done += 1
            self._progress(force=self._done == self._total)
            return
        if text.startswith("fail (P="):
            self._done += 1
            self._failed += 1
            self._emit(line)
            self._progress(force=self._done == self._total)
            return
        self._emit(line)


def run_quietly(vu, post_run=None, verbose: bool = False) -> None:
    """vu.main(post_run=...) with a QuietConsole as stdout unless verbose. Raises the
    SystemExit VUnit always ends with."""
    if verbose:
        vu.main(post_run=post_run)
        return
    console = QuietConsole(sys.stdout)
    real = sys.stdout
    sys.stdout = console
    try:
        vu.main(post_run=post_run)
    finally:
        console.close()
        sys.stdout = real
