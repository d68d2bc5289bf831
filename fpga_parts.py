"""FPGA parts the resource estimate knows: what each offers (AMD/Xilinx 7-series data sheets).

RAMB18 counts every 36 Kb block RAM as two 18 Kb halves (a RAMB36E1 uses both); CARRY4
is one per slice (four LUTs).
"""
from __future__ import annotations

PARTS: dict[str, dict[str, int]] = {
    # part:       LUT,      FF,  RAMB18 (= 2 x RAMB36), DSP48E1
    "xc7z010": {"LUT": 17600, "FF": 35200, "RAMB18": 120, "DSP48E1": 80},
    "xc7z020": {"LUT": 53200, "FF": 106400, "RAMB18": 280, "DSP48E1": 220},
    "xc7a35t": {"LUT": 20800, "FF": 41600, "RAMB18": 100, "DSP48E1": 90},
    "xc7a100t": {"LUT": 63400, "FF": 126800, "RAMB18": 270, "DSP48E1": 240},
}
for _part in PARTS.values():
    _part["CARRY4"] = _part["LUT"] // 4

DEFAULT_PART = "xc7z020"   # the PYNQ-Z2's
DSP_BUDGET_SHARE = 0.75    # default: multiply-accumulates in DSP blocks, share of the part's DSPs


class PartError(ValueError):
    """A part name the estimate does not know."""


def check_part(part: str) -> str:
    key = part.lower()
    if key not in PARTS:
        raise PartError(f"unknown part '{part}'; known parts: {', '.join(PARTS)}")
    return key


def default_dsp_budget(part: str) -> int:
    """Multiply-accumulates placed in DSP blocks unless --dsp-budget says otherwise."""
    return int(PARTS[check_part(part)]["DSP48E1"] * DSP_BUDGET_SHARE)
