"""The bare-metal C example the generator writes for a Zynq (driver/bram_mlp_dma.c, .h,
bram_mlp_layout.h, bram_mlp_test_data.h), on a PC: it compiles warning-free with
gcc -Wall -Wextra against stand-ins of the Xilinx headers it includes (tests/xilinx_stub/,
with the signatures of embeddedsw's xaxidma.h), for both BSP flavours (device ID, or base
address with -DSDT); its packing is checked against the stream layout the VHDL testbenches
use and its unpacking against the integer reference model; and its main() runs with a
stand-in DMA that answers with the reference model's results.

    python3 -m pytest tests/test_c_driver.py
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cocotb_support as cs  # noqa: E402

STUB = Path(__file__).resolve().parent / "xilinx_stub"
GCC = shutil.which("gcc")
pytestmark = pytest.mark.skipif(GCC is None, reason="needs gcc")
FLAGS = ["-std=c99", "-Wall", "-Wextra", "-I", str(STUB)]
# 8-bit codes one per byte; 12-bit codes in 16-bit beats; 4 codes per 32-bit beat; 64-bit
# result words
KEYS = ["odd_5_3_2", "wide_5_3_2", "simd_100_13_7_10", "wide_logits_5_2"]


def gcc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([GCC, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def design_of(tmp_path: Path, key: str, monkeypatch) -> tuple[Path, cs.Design]:
    """The design and its reference model (through the environment variable the cocotb
    benches read, set for this test only: a later cocotb run must not inherit it)."""
    folder = cs.make_design(tmp_path, key)
    monkeypatch.setenv(cs.DESIGN_ENV, str(folder))
    return folder, cs.load_design()


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("bsp", [[], ["-DSDT"]], ids=["device-id", "sdt"])
def test_compiles_without_a_warning(tmp_path, key, bsp, monkeypatch):
    folder, _ = design_of(tmp_path, key, monkeypatch)
    driver = folder / "driver"
    res = gcc(*FLAGS, *bsp, "-I", str(driver), "-c", str(driver / "bram_mlp_dma.c"),
              "-o", str(tmp_path / "dma.o"), cwd=tmp_path)
    assert res.returncode == 0 and res.stderr == "", res.stderr


@pytest.mark.parametrize("key", KEYS)
def test_pack_and_unpack_on_the_host(tmp_path, key, monkeypatch):
    """bram_mlp_pack gives the words the VHDL testbenches stream (Design.words);
    bram_mlp_unpack reads back the class and logits of the reference model from result
    words built here (little-endian, two's complement, as m_axis sends them)."""
    folder, design = design_of(tmp_path, key, monkeypatch)
    driver = folder / "driver"
    exe = tmp_path / "host_test"
    res = gcc(*FLAGS, "-DBRAM_MLP_NO_MAIN", "-I", str(driver), str(STUB / "host_test.c"),
              str(driver / "bram_mlp_dma.c"), str(STUB / "xilinx_stub.c"), "-o", str(exe),
              cwd=tmp_path)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    X = design.random_images(6, seed=9)
    X[2] = (1 << design.q.input_bits) - 1
    logits, classes = design.reference(X)
    beat = design.report["axis"]["s_axis_bits"] // 8
    word = design.report["axis"]["m_axis_bits"] // 8
    requests = [("P " + " ".join(map(str, x))) for x in X]
    for c, row in zip(classes, logits):
        values = [int(c)] + [int(v) for v in row]
        data = b"".join((v & ((1 << 8 * word) - 1)).to_bytes(word, "little") for v in values)
        requests.append("U " + data.hex())
    run = subprocess.run([str(exe)], input="\n".join(requests) + "\n", capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 2 * len(X)
    for x, line in zip(X, lines[:len(X)]):
        data = bytes.fromhex(line)
        got = [int.from_bytes(data[i:i + beat], "little") for i in range(0, len(data), beat)]
        assert got == design.words(x)
    for c, row, line in zip(classes, logits, lines[len(X):]):
        assert [int(v) for v in line.split()] == [int(c)] + [int(v) for v in row]


@pytest.mark.parametrize("corrupt", [False, True], ids=["reference", "corrupted"])
def test_main_runs_with_a_stand_in_dma(tmp_path, corrupt, monkeypatch):
    """main() on the host: init, then each test vector packed, sent, its result unpacked
    and compared, printed as over the UART. The stand-in DMA answers with the reference
    model's words for the packed test vectors (so this checks the program's flow and its
    word layout, not the network); with one answer bit flipped, main() says so and fails."""
    folder, design = design_of(tmp_path, "odd_5_3_2", monkeypatch)
    driver = folder / "driver"
    exe = tmp_path / "program"
    res = gcc(*FLAGS, *(["-DSTUB_CORRUPT"] if corrupt else []), "-I", str(driver),
              str(driver / "bram_mlp_dma.c"), str(STUB / "xilinx_stub.c"), "-o", str(exe),
              cwd=tmp_path)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    n = min(4, design.report["vectors"])
    lines = [line for line in run.stdout.splitlines() if line.startswith("image ")]
    assert len(lines) == n
    if corrupt:
        assert run.returncode != 0
        assert f"{n - 1} of {n} images as the reference model" in run.stdout
        assert [("DIFFERENT" in line) for line in lines] == [k == 1 for k in range(n)]
    else:
        assert run.returncode == 0, run.stdout
        assert f"{n} of {n} images as the reference model" in run.stdout
        assert not any("DIFFERENT" in line for line in lines)
