"""What takes a generated design to a board: the numbers of the Vivado build script
(vivado/build.tcl) and its out-of-context constraints, and the image and result layout of
the PYNQ driver (driver/bram_mlp_driver.py), for the templates to lay out.

The generator (generator.render_design) renders them into <out>/vivado/ for a Xilinx part
and <out>/driver/ for a Zynq; an ECP5 part has its own flow (implement.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from hardware_plan import DesignPlan

DRIVERS_DIR = Path(__file__).resolve().parent / "drivers"
C_DRIVER_FILES = ("bram_mlp_dma.c", "bram_mlp_dma.h")   # hand-written, copied as they are
C_TEST_IMAGES = 4   # test vectors the C example's main() sends

# vhdl_generator.py --part -> the device Vivado builds for (package and speed grade of the
# board each part is most often found on)
VIVADO_PARTS = {
    "xc7z020": "xc7z020clg400-1",    # PYNQ-Z2, PYNQ-Z1
    "xc7z010": "xc7z010clg400-1",    # Zybo Z7-10
    "xc7a35t": "xc7a35ticsg324-1L",  # Arty A7-35T
    "xc7a100t": "xc7a100tcsg324-1",  # Arty A7-100T, Nexys A7-100T
}
ZYNQ_PARTS = ("xc7z010", "xc7z020")   # parts with a processing system for the block design
# the board part whose preset configures the processing system, where one is the usual
BOARD_PARTS = {"xc7z020": "tul.com.tw:pynq-z2:part0:1.0"}

AXI_DMA_MIN_DATA_BITS = 32   # the DMA's memory-mapped side: 32 bits or more (PG021)
DMA_ALIGN_BYTES = 64         # the driver starts every transfer on such a boundary


def has_pynq_flow(part: str) -> bool:
    return part in ZYNQ_PARTS


def has_vivado_flow(part: str) -> bool:
    return part in VIVADO_PARTS


def vivado_context(name: str, plan: DesignPlan, part: str, clock_mhz: float,
                   sources: list[str]) -> dict:
    """The numbers build.tcl and the .xdc are written with; sources: the design's
    synthesizable files, relative to the output folder."""
    return {
        "vivado_part": VIVADO_PARTS[part], "zynq": part in ZYNQ_PARTS,
        "board_part": BOARD_PARTS.get(part, ""),
        "project_name": f"{name}_vivado", "bd_name": f"{name}_bd",
        "script_path": "vivado/build.tcl", "xdc_name": f"{name}_axis_ooc.xdc",
        "clock_mhz": f"{clock_mhz:g}", "period_ns": f"{1000.0 / clock_mhz:.3f}",
        "sources": sources,
        "s_axis_bits": plan.s_axis_bits, "m_axis_bits": plan.m_axis_bits,
        "mm2s_data_bits": max(AXI_DMA_MIN_DATA_BITS, plan.s_axis_bits),
        "s2mm_data_bits": max(AXI_DMA_MIN_DATA_BITS, plan.m_axis_bits),
        "input_words": plan.input_words, "m_axis_beats": plan.layers[-1].n_out + 1,
    }


def driver_layout(name: str, plan: DesignPlan, input_bits: int, n_inputs: int,
                  clock_mhz: float) -> dict:
    """How images and results travel through the DMA (report.json's "axis" in the terms
    of the driver)."""
    n_outputs = plan.layers[-1].n_out
    return {"name": name, "n_inputs": n_inputs, "input_bits": input_bits,
            "input_simd": plan.layers[0].simd, "input_beats": plan.input_words,
            "s_axis_bytes": plan.s_axis_bits // 8, "n_outputs": n_outputs,
            "result_beats": n_outputs + 1, "m_axis_bytes": plan.m_axis_bits // 8,
            "image_period_cycles": plan.axis_period_cycles, "clock_mhz": clock_mhz}


def driver_context(layout: dict) -> dict:
    """The template's numbers: the layout's, and the layout as a Python literal."""
    return {**{k: v for k, v in layout.items() if k != "name"},
            "layout": "{\n" + "".join(f"    {k!r}: {v!r},\n" for k, v in layout.items()) + "}",
            "align": DMA_ALIGN_BYTES}


def c_test_data(vectors: np.ndarray, logits: np.ndarray, classes: np.ndarray) -> dict:
    """The first test vectors and the reference model's results, as C initializers."""
    n = min(C_TEST_IMAGES, len(vectors))

    def lines(values, per_line: int = 16) -> list[str]:
        text = [str(int(v)) for v in values]
        return [", ".join(text[i:i + per_line]) + "," for i in range(0, len(text), per_line)]

    return {"n_test": n, "test_images": [lines(v) for v in vectors[:n]],
            "test_classes": ", ".join(str(int(c)) for c in classes[:n]),
            "test_logits": [", ".join(f"{int(v)}LL" for v in row) for row in logits[:n]]}
