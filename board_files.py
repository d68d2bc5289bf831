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
VIO_PROBE_MAX_BITS = 256     # the widest probe of a VIO (PG159)


def has_pynq_flow(part: str) -> bool:
    return part in ZYNQ_PARTS


def has_vivado_flow(part: str) -> bool:
    return part in VIVADO_PARTS


def vivado_context(name: str, plan: DesignPlan, part: str, clock_mhz: float,
                   sources: list[str], debug_probes: bool = False) -> dict:
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
        "debug_probes": debug_probes,
    }


def lab_context(name: str, plan: DesignPlan, vivado: dict, input_bits: int, n_coe: int) -> dict:
    """The numbers of vivado/lab.tcl: build.tcl's, with its own project, and the test
    image ROM's and the VIO's widths."""
    last = plan.layers[-1]
    return {**vivado, "project_name": f"{name}_lab_vivado", "bd_name": f"{name}_lab",
            "input_word_bits": input_bits * plan.layers[0].simd,
            "n_layers": len(plan.layers), "n_coe": n_coe, "n_outputs": last.n_out,
            "logit_bits": last.acc_bits,
            "logits_probe": last.n_out * last.acc_bits <= VIO_PROBE_MAX_BITS}


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


def pynq_notebook(name: str, layout: dict, generated_by: str) -> str:
    """driver/run_on_pynq.ipynb: load the bitstream, check the test vectors against the
    reference model's results, then accuracy and images per second on a test set.
    generated_by: the line that says which tool, version and model wrote it."""
    import nbformat
    from nbformat import v4

    period = layout["image_period_cycles"]
    cells = [
        v4.new_markdown_cell(
            f"# Network {name} on a PYNQ board\n\n"
            f"Runs the network through the AXI DMA of the block design that `vivado/build.tcl "
            f"--impl` builds, with `bram_mlp_driver.py` (generated with it). On the board "
            f"(Jupyter, PYNQ 2.7 or later), put into one folder this notebook, "
            f"`bram_mlp_driver.py`, and `{name}.bit` + `{name}.hwh` from the Vivado project "
            f"folder; the design's `vectors/` folder one level up (copy the whole generated "
            f"folder and the two files into its `driver/`); optionally a test set as "
            f"`test/X.npy` and `test/y.npy` (`trainer.py --export-test test`).\n\n"
            f"The hardware takes an image every {period} clocks with images back to back: "
            f"at the clock the block design runs ({layout['clock_mhz']:g} MHz asked for), "
            f"{layout['clock_mhz'] * 1e6 / period:,.0f} images/s is its ceiling; the figure "
            f"below is what Python and the DMA reach on the board.\n\n"
            f"*{generated_by} Do not edit: regenerate instead.*"),
        v4.new_code_cell(
            f'BITSTREAM = "{name}.bit"   # {name}.hwh beside it\n'
            'VECTORS = "../vectors"      # inputs.csv and expected.csv of the design\n'
            'TEST_SET = "test"           # X.npy (uint8 codes) and y.npy, if there',
            metadata={"tags": ["parameters"]}),
        v4.new_code_cell(
            "import time\n"
            "from pathlib import Path\n\n"
            "import numpy as np\n"
            "from pynq import Overlay\n\n"
            "from bram_mlp_driver import LAYOUT, BramMlp\n\n"
            "overlay = Overlay(BITSTREAM)\n"
            "net = BramMlp(overlay)\n"
            'print(f"{LAYOUT[\'name\']}: {LAYOUT[\'n_inputs\']} inputs, '
            '{LAYOUT[\'n_outputs\']} outputs, loaded from {BITSTREAM}")'),
        v4.new_markdown_cell(
            "## The test vectors against the reference model\n\n"
            "`expected.csv` holds what the integer reference model computes for "
            "`inputs.csv` (the logits, then the class; a logit wider than 32 bits in two "
            "columns, `logit >> 16` and `logit & 0xFFFF`). The hardware must give the same, "
            "bit for bit."),
        v4.new_code_cell(
            'inputs = np.loadtxt(Path(VECTORS) / "inputs.csv", delimiter=",", dtype=np.int64, '
            'ndmin=2)\n'
            'rows = np.loadtxt(Path(VECTORS) / "expected.csv", delimiter=",", dtype=np.int64, '
            'ndmin=2)\n'
            'n = LAYOUT["n_outputs"]\n'
            "if rows.shape[1] == 2 * n + 1:   # wide logits: hi and lo columns\n"
            "    pairs = rows[:, :2 * n].reshape(len(rows), n, 2)\n"
            "    want_logits = (pairs[:, :, 0] << 16) + pairs[:, :, 1]\n"
            "else:\n"
            "    want_logits = rows[:, :n]\n"
            "want_classes = rows[:, -1]\n"
            "classes, logits = net.classify(inputs)\n"
            "same = (classes == want_classes) & (logits == want_logits).all(axis=1)\n"
            'print(f"{same.sum()} of {len(same)} test vectors as the reference model")\n'
            "for k in np.flatnonzero(~same):\n"
            '    print(f"  vector {k}: class {classes[k]} logits {logits[k].tolist()}, '
            'reference {want_classes[k]} {want_logits[k].tolist()}")'),
        v4.new_markdown_cell("## Accuracy and images per second on a test set"),
        v4.new_code_cell(
            'if (Path(TEST_SET) / "X.npy").exists():\n'
            '    X = np.load(Path(TEST_SET) / "X.npy")\n'
            '    y = np.load(Path(TEST_SET) / "y.npy")\n'
            "    start = time.perf_counter()\n"
            "    predicted = net.predict(X)\n"
            "    seconds = time.perf_counter() - start\n"
            '    print(f"accuracy {np.mean(predicted == y):.4f} ({np.sum(predicted == y)} of '
            '{len(y)} images)")\n'
            '    print(f"{len(X) / seconds:,.0f} images/s through the driver ({seconds:.3f} s)")\n'
            "else:\n"
            '    print(f"no test set in {TEST_SET}/ (trainer.py --export-test {TEST_SET})")'),
    ]
    for k, cell in enumerate(cells):
        cell.id = f"cell-{k}"            # fixed ids: the same design, the same file
    nb = v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"
