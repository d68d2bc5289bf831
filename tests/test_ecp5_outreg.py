"""ecp5_outreg.py: the flip-flops right behind a DP16KD become its output register
(REGMODE OUTREG), only when that keeps the logic the same, clock for clock. The netlists
here are written by hand in Yosys' JSON form, one case per condition of the module's
docstring; test_implement checks a real design's block RAMs are absorbed."""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import ecp5_outreg  # noqa: E402

CLK, CE, ADDR = 2, 3, 4


def netlist(bits: int = 4, width: int = 9, ff_params: dict | None = None,
            ff_conn: dict | None = None, extra_sink: bool = False, clock_port: str = "A") -> dict:
    """A DP16KD reading `bits` data bits on port A (or over A and B, width 36), each into a
    TRELLIS_FF whose Q is a module output."""
    ram_conn = {"CLKA": [CLK] if clock_port == "A" else ["0"],
                "CLKB": [CLK] if clock_port == "B" else ["0"], "CEA": [CE], "ADA0": [ADDR],
                "OCEA": ["1"], "OCEB": ["1"]}
    cells, out_bits, net = {}, [], 100
    for i in range(bits):
        pin = f"DOA{i}" if width != 36 or i < 18 else f"DOB{i - 18}"
        ram_conn[pin] = [net]
        cells[f"ff{i}"] = {
            "type": "TRELLIS_FF",
            "parameters": {"CEMUX": "CE", "CLKMUX": "CLK", "GSR": "DISABLED", "LSRMUX": "LSR",
                           "REGSET": "RESET", **(ff_params or {})},
            "port_directions": {"CLK": "input", "CE": "input", "DI": "input", "LSR": "input",
                                "Q": "output"},
            "connections": {"CLK": [CLK], "CE": [CE + 10], "DI": [net], "LSR": ["0"],
                            "Q": [net + 1], **(ff_conn or {})}}
        out_bits.append(net + 1)
        net += 2
    dirs = {p: ("output" if p.startswith("DO") else "input") for p in ram_conn}
    cells["ram"] = {"type": "DP16KD", "port_directions": dirs, "connections": ram_conn,
                    "parameters": {"DATA_WIDTH_A": format(width, "032b"),
                                   "DATA_WIDTH_B": format(width, "032b"),
                                   "REGMODE_A": "NOREG", "REGMODE_B": "NOREG"}}
    if extra_sink:   # DOA0 also feeds a LUT
        cells["lut"] = {"type": "LUT4", "port_directions": {"A": "input", "Z": "output"},
                        "connections": {"A": [100], "Z": [999]}}
    return {"modules": {"t": {
        "ports": {"q": {"direction": "output", "bits": out_bits},
                  "clk": {"direction": "input", "bits": [CLK]}},
        "cells": cells,
        "netnames": {f"do{i}": {"bits": [100 + 2 * i]} for i in range(bits)}}}}


def test_flip_flops_behind_the_ram_become_its_output_register():
    n = netlist()
    assert ecp5_outreg.absorb_output_registers(n, "t") == 1
    cells = n["modules"]["t"]["cells"]
    assert set(cells) == {"ram"}                      # the flip-flops are gone
    ram = cells["ram"]
    assert ram["parameters"]["REGMODE_A"] == "OUTREG"
    assert ram["connections"]["OCEA"] == [CE + 10]    # their clock enable
    assert [ram["connections"][f"DOA{i}"] for i in range(4)] == [[101], [103], [105], [107]]
    assert not n["modules"]["t"]["netnames"]          # the old data nets are not named


def test_flip_flops_without_enable_leave_the_output_register_always_enabled():
    """CEMUX "1" (no enable), written by Yosys as "1 " (a string that reads like binary
    digits gets a trailing space in its JSON)."""
    n = netlist(ff_params={"CEMUX": "1 "})
    for cell in n["modules"]["t"]["cells"].values():
        cell["connections"].pop("CE", None)
    assert ecp5_outreg.absorb_output_registers(n, "t") == 1
    assert n["modules"]["t"]["cells"]["ram"]["connections"]["OCEA"] == ["1"]


def test_36_bit_mode_reads_on_port_b_and_registers_both_halves():
    n = netlist(bits=36, width=36, clock_port="B")
    assert ecp5_outreg.absorb_output_registers(n, "t") == 1
    ram = n["modules"]["t"]["cells"]["ram"]
    assert (ram["parameters"]["REGMODE_A"], ram["parameters"]["REGMODE_B"]) == ("OUTREG", "OUTREG")
    assert ram["connections"]["OCEA"] == ram["connections"]["OCEB"] == [CE + 10]
    assert ram["connections"]["DOB17"] == [36 * 2 + 99]


@pytest.mark.parametrize("case", [
    dict(extra_sink=True),                             # the data also feeds logic
    dict(ff_conn={"CLK": [77]}),                       # another clock
    dict(ff_conn={"LSR": [78]}),                       # a reset
    dict(ff_params={"REGSET": "SET"}),                 # starts at 1
    dict(ff_params={"GSR": "ENABLED"}),                # the global reset
    dict(ff_params={"CEMUX": "INV"}),                  # an inverted enable
    dict(ff_params={"CLKMUX": "INV"}),                 # the falling edge
    dict(bits=36, width=36, clock_port="A"),           # 36 bits but clocked as port A
])
def test_anything_else_stays_as_it_is(case):
    n = netlist(**case)
    before = copy.deepcopy(n)
    assert ecp5_outreg.absorb_output_registers(n, "t") == 0
    assert n == before


def test_flip_flops_with_different_enables_stay():
    n = netlist()
    n["modules"]["t"]["cells"]["ff1"]["connections"]["CE"] = [55]
    before = copy.deepcopy(n)
    assert ecp5_outreg.absorb_output_registers(n, "t") == 0 and n == before
