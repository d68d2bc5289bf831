"""FPGA parts the tool plans for: what each offers (AMD/Xilinx 7-series data sheets; Lattice
ECP5 family data sheet FPGA-DS-02012).

RAMB18 counts every 36 Kb block RAM as two 18 Kb halves (a RAMB36E1 uses both); CARRY4
is one per slice (four LUTs). An ECP5 part is entered with its own blocks under the same
names: its 18 Kb DP16KD block RAMs (the shapes of a RAMB18) as RAMB18, its MULT18X18D
multipliers as DSP48E1, its LUT4s as LUT. Its figures come from place and route
(implement.py), not from the Xilinx estimate (estimate.py refuses it).
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
# ECP5: --part name -> the part implement.py places and routes (ULX3S boards carry them)
ECP5_PARTS = {"lfe5u-85f": "LFE5U-85F-6BG381C", "lfe5u-45f": "LFE5U-45F-6BG381C",
              "lfe5u-25f": "LFE5U-25F-6BG381C"}
PARTS.update({
    # part:         LUT4,       FF,  DP16KD,        MULT18X18D
    "lfe5u-85f": {"LUT": 83640, "FF": 83640, "RAMB18": 208, "DSP48E1": 156, "CARRY4": 0},
    "lfe5u-45f": {"LUT": 43848, "FF": 43848, "RAMB18": 108, "DSP48E1": 72, "CARRY4": 0},
    "lfe5u-25f": {"LUT": 24288, "FF": 24288, "RAMB18": 56, "DSP48E1": 28, "CARRY4": 0},
})

DEFAULT_PART = "xc7z020"   # the PYNQ-Z2's
DSP_BUDGET_SHARE = 0.75    # default: multiply-accumulates in DSP blocks, share of the part's DSPs


class PartError(ValueError):
    """A part name the estimate does not know."""


def check_part(part: str) -> str:
    key = part.lower()
    if key not in PARTS:
        raise PartError(f"unknown part '{part}'; known parts: {', '.join(PARTS)}")
    return key


def is_ecp5(part: str) -> bool:
    return part.lower() in ECP5_PARTS


def default_dsp_budget(part: str) -> int:
    """Multiply-accumulates placed in DSP blocks unless --dsp-budget says otherwise."""
    return int(PARTS[check_part(part)]["DSP48E1"] * DSP_BUDGET_SHARE)
