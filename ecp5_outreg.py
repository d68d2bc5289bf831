"""ecp5_outreg.py: move the register behind each ECP5 block RAM into the block RAM.

A DP16KD block RAM can register its data output itself (REGMODE "OUTREG", enabled by its
OCE pin): the data then leaves the block about 4 ns earlier in the clock than without
that register (nextpnr's timing of the two modes). Yosys `synth_ecp5` never sets it: the
register the VHDL puts right behind a block RAM (the weights ROMs' output registers, the
input buffer's) becomes a row of TRELLIS_FF flip-flops in the fabric, and the slow path
out of the block (clock to data, about 5.6 ns on a speed-6 part) plus the routing to them
is one of the longest of a large design (docs/timing.md). This pass, run by implement.py
on the synthesized netlist (Yosys JSON) before place and route, absorbs such a row:

  for a DP16KD whose every used data output (DOA0..17, DOB0..17) drives exactly one
  flip-flop, at its D input, and nothing else, and where all those flip-flops are clocked
  by the clock of their port (CLKA for DOA, CLKB for DOB; in the 36-bit mode, where port
  B reads all 36 bits over DOA and DOB, CLKB for both), share one clock enable per port
  (or have none), have no set/reset (LSR tied to 0, GSR disabled) and start at 0 -- the
  block's output register's state after configuration --, set REGMODE_A/_B to "OUTREG",
  connect OCEA/OCEB to that clock enable, let the data outputs drive what the flip-flops
  drove, and remove the flip-flops. (The 36-bit mode as nextpnr builds it from Lattice's
  PDPW16KD: both REGMODEs from its one REGMODE, its read clock and output enable on
  port B; the same enable goes to OCEA here too.)

A block RAM with any other use of its data outputs is left as it is. The logic is the same
clock for clock: the output register holds the data one clock after the block RAM's own
read register, loads when its enable is high, as the flip-flops did (Lattice FPGA-TN-02204,
ECP5 memory usage guide: output register, OCE).
"""
from __future__ import annotations

DATA_OUT = {"A": [f"DOA{i}" for i in range(18)], "B": [f"DOB{i}" for i in range(18)]}


def _sinks(module: dict) -> dict:
    """net bit -> [(cell name, port)] of every cell input it drives."""
    sinks: dict = {}
    for name, cell in module["cells"].items():
        dirs = cell.get("port_directions", {})
        for port, bits in cell["connections"].items():
            if dirs.get(port) == "output":
                continue
            for b in bits:
                if isinstance(b, int):
                    sinks.setdefault(b, []).append((name, port))
    return sinks


def _module_outputs(module: dict) -> set:
    return {b for p in module.get("ports", {}).values() if p["direction"] != "input"
            for b in p["bits"] if isinstance(b, int)}


def _width(value) -> int:
    """A Yosys JSON integer parameter (a string of binary digits, or a number)."""
    return int(value, 2) if isinstance(value, str) else int(value)


def _absorbable(ram: dict, cells: dict, sinks: dict, outputs: set) -> dict | None:
    """{port letter: (clock enable bits, [(data pin, flip-flop name)])} when every used data
    output of the RAM drives one flip-flop that its output register can stand for."""
    params = ram.get("parameters", {})
    wide = 36 in (_width(params.get("DATA_WIDTH_A", 18)), _width(params.get("DATA_WIDTH_B", 18)))
    plan = {}
    for letter, pins in DATA_OUT.items():
        clock = ram["connections"].get("CLKB" if wide else f"CLK{letter}")
        enable, regs = None, []
        for pin in pins:
            bits = ram["connections"].get(pin, [])
            if not bits or not isinstance(bits[0], int):
                continue
            bit = bits[0]
            users = sinks.get(bit, [])
            if not users and bit not in outputs:
                continue  # an unused data output
            if len(users) != 1 or bit in outputs:
                return None
            name, port = users[0]
            ff = cells[name]
            # (Yosys' JSON writes a string parameter that reads like binary digits, as "1",
            # with a trailing space)
            p = {k: v.strip() if isinstance(v, str) else v
                 for k, v in ff.get("parameters", {}).items()}
            if (ff["type"] != "TRELLIS_FF" or port != "DI"
                    or ff["connections"].get("CLK") != clock
                    or p.get("CLKMUX", "CLK") != "CLK" or p.get("GSR", "DISABLED") != "DISABLED"
                    or p.get("REGSET", "RESET") != "RESET"
                    or ff["connections"].get("LSR", ["0"]) != ["0"]
                    or p.get("CEMUX", "CE") not in ("CE", "1")):
                return None
            ce = ["1"] if p.get("CEMUX", "CE") == "1" else ff["connections"].get("CE", ["1"])
            if enable is None:
                enable = ce
            elif ce != enable:
                return None
            regs.append((pin, name))
        if regs:
            if not isinstance(clock, list) or not isinstance(clock[0], int):
                return None
            plan[letter] = (enable, regs)
    if wide and plan:
        # one output register over both ports, enabled as one (OCEB, and OCEA alike)
        enables = {tuple(e) for e, _ in plan.values()}
        if len(enables) != 1:
            return None
        enable = list(enables.pop())
        plan = {letter: (enable, plan.get(letter, (enable, []))[1]) for letter in DATA_OUT}
    return plan or None


def absorb_output_registers(netlist: dict, top: str) -> int:
    """Absorb the flip-flops behind every DP16KD of module `top` into its output register
    (see the module's docstring); returns how many block RAMs changed."""
    module = netlist["modules"][top]
    cells = module["cells"]
    sinks = _sinks(module)
    outputs = _module_outputs(module)
    changed = 0
    for ram_name in [n for n, c in cells.items() if c["type"] == "DP16KD"]:
        ram = cells[ram_name]
        plan = _absorbable(ram, cells, sinks, outputs)
        if plan is None:
            continue
        for letter, (enable, regs) in plan.items():
            for pin, ff_name in regs:
                ram["connections"][pin] = list(cells[ff_name]["connections"]["Q"])
                del cells[ff_name]
            ram["parameters"][f"REGMODE_{letter}"] = "OUTREG"
            ram["connections"][f"OCE{letter}"] = list(enable)
        changed += 1
    if changed:  # names of the nets nothing drives any more
        driven = {b for c in cells.values() for port, bits in c["connections"].items()
                  if c.get("port_directions", {}).get(port) == "output"
                  for b in bits if isinstance(b, int)}
        driven |= {b for p in module.get("ports", {}).values() if p["direction"] == "input"
                   for b in p["bits"] if isinstance(b, int)}
        module["netnames"] = {n: v for n, v in module.get("netnames", {}).items()
                              if any(not isinstance(b, int) or b in driven for b in v["bits"])}
    return changed
