"""The quiet console (vunit_console.py): VUnit's per-file and per-test lines become one
progress line per phase; failures, compile errors and the caller's own lines pass through."""
from __future__ import annotations

import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vunit_console import QuietConsole  # noqa: E402

# what VUnit 4.7 prints for a run of two tests (non-verbose, colour on), one failing
TRANSCRIPT = """\
\x1b[0m\x1b[mCompiling into lib_a:   a_pkg.vhd \x1b[0m\x1b[32;1mpassed\x1b[0m\x1b[m
Compiling into lib_a:   a_top.vhd passed
Compile passed

Starting lib_a.tb_a.test_one
Output file: /tmp/x/vunit_out/test_output/lib_a.tb_a.test_one_12ab/output.txt
pass (P=1 S=0 F=0 T=2) lib_a.tb_a.test_one (0.3 seconds)

Starting lib_a.tb_a.test_two
Output file: /tmp/x/vunit_out/test_output/lib_a.tb_a.test_two_34cd/output.txt
  1000 ps - check - ERROR - vector 5: logit 3 - Got 7. Expected 8.
\x1b[31;1mfail\x1b[0m (P=1 S=0 F=1 T=2) lib_a.tb_a.test_two (0.2 seconds)

==== Summary =================================================================
pass lib_a.tb_a.test_one (0.3 seconds)
fail lib_a.tb_a.test_two (0.2 seconds)
==============================================================================
pass 1 of 2
fail 1 of 2
==============================================================================
Total time was 0.5 seconds
Elapsed time was 0.4 seconds
==============================================================================
Some failed!
network   bit-exact
a         NO
"""


def feed(text: str, live: bool = False) -> str:
    out = io.StringIO()
    console = QuietConsole(out, live=live)
    for i in range(0, len(text), 7):        # in pieces, as print() writes
        console.write(text[i:i + 7])
    console.close()
    return out.getvalue()


def test_progress_lines_failures_and_own_output():
    lines = feed(TRANSCRIPT).splitlines()
    assert lines[0].startswith("compiled 2 files (")
    assert "  1000 ps - check - ERROR - vector 5: logit 3 - Got 7. Expected 8." in lines
    assert "fail (P=1 S=0 F=1 T=2) lib_a.tb_a.test_two (0.2 seconds)" in lines
    assert "simulating: 2 of 2 tests done, 1 failed" in lines
    assert any(x.startswith("simulated 2 tests: 1 FAILED") for x in lines)
    assert lines[-2:] == ["network   bit-exact", "a         NO"]
    assert not any(x.startswith(("Starting", "Output file", "Compiling", "pass ", "====",
                                 "Total time")) for x in lines)
    assert len(lines) == 7


def test_no_escape_codes_in_a_file():
    assert "\x1b" not in feed(TRANSCRIPT)


def test_compile_failure_shows_the_compile_lines_and_the_error():
    text = ("Compiling into lib_a: a_pkg.vhd passed\n"
            "Compiling into lib_a: a_top.vhd failed\n"
            "=== Command used: ===\nghdl -a a_top.vhd\n"
            "a_top.vhd:3:1: syntax error\n"
            "Compile failed\n")
    lines = feed(text).splitlines()
    assert lines[:2] == ["Compiling into lib_a: a_pkg.vhd passed",
                         "Compiling into lib_a: a_top.vhd failed"]
    assert "a_top.vhd:3:1: syntax error" in lines and lines[-1] == "Compile failed"


def test_a_terminal_gets_one_line_rewritten_in_place():
    out = feed(TRANSCRIPT, live=True)
    assert "\rsimulating: 1 of 2 tests done" in out
