"""Every entity a user may place in a Vivado block design as a module reference:
the file analyses with `ghdl -a --std=93c` (UG994: no VHDL-2008 at the top of a module
reference), its ports are only std_logic / std_logic_vector of constant width, its
generics have defaults of a type Vivado takes (integer, boolean), and its clock and reset
carry the X_INTERFACE attributes Vivado's inference needs.

The ports are read from GHDL's own analysis (`ghdl --file-to-xml`: the AST with the widths
folded to numbers), not from the text. A control entity with an integer, a signed and an
unconstrained port proves the check finds bad ports.
"""
from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cocotb_support as cs  # noqa: E402

ROOT = cs.ROOT
import vhdl_generator as vg  # noqa: E402

pytestmark = pytest.mark.skipif(cs.GHDL is None, reason="GHDL is not installed")
GENERIC_TYPES = {"integer", "natural", "positive", "boolean"}


def ghdl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([cs.GHDL, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def entity_interface(xml_text: str, entity: str) -> tuple[list[dict], list[dict]]:
    """Ports (name, mode, type, width or None, from std_logic_1164 or not, constant
    width or not) and generics (name, type, has a default) of `entity` from GHDL's AST."""
    root = ET.fromstring(xml_text)
    by_id = {el.get("id"): el for el in root.iter() if el.get("id")}
    units = [u for u in root.iter("library_unit")
             if u.get("kind") == "entity_declaration" and u.get("identifier") == entity]
    assert len(units) == 1, f"entity {entity} not found in GHDL's AST"
    unit = units[0]

    def declared_in(mark: ET.Element) -> str:
        ref = mark.find("named_entity")
        decl = by_id.get(ref.get("ref")) if ref is not None else None
        return decl.get("file", "") if decl is not None else ""

    ports = []
    for el in unit.find("port_chain") if unit.find("port_chain") is not None else []:
        sub = el.find("subtype_indication")
        port = {"name": el.get("identifier"), "mode": el.get("mode"), "kind": sub.get("kind"),
                "type": None, "ieee": False, "constant": False, "width": None}
        if sub.get("kind") == "simple_name":  # a type mark alone: std_logic, integer, ...
            port.update(type=sub.get("identifier"), ieee="std_logic_1164" in declared_in(sub),
                        constant=True, width=1)
        elif sub.get("kind") == "array_subtype_definition":
            mark = sub.find("subtype_type_mark")
            port.update(type=mark.get("identifier"),
                        ieee="std_logic_1164" in declared_in(mark),
                        constant=(sub.get("type_staticness") == "local"
                                  and sub.get("constraint_state") == "fully constrained"))
            rng = sub.find("index_constraint_list/el/range_constraint")
            if port["constant"] and rng is not None:
                left = rng.find("left_limit_expr").get("value")
                right = rng.find("right_limit_expr").get("value")
                port["width"] = abs(int(left) - int(right)) + 1
        ports.append(port)
    generics = []
    for el in unit.find("generic_chain") if unit.find("generic_chain") is not None else []:
        generics.append({"name": el.get("identifier"),
                         "type": el.find("subtype_indication").get("identifier"),
                         "default": el.find("default_value") is not None})
    return ports, generics


def port_problems(ports: list[dict], generics: list[dict]) -> list[str]:
    problems = []
    for p in ports:
        ok_type = ((p["type"] == "std_logic" and p["kind"] == "simple_name")
                   or (p["type"] == "std_logic_vector" and p["kind"] == "array_subtype_definition"))
        if not (ok_type and p["ieee"]):
            problems.append(f"port {p['name']}: type {p['type']} ({p['kind']}), "
                            "not std_logic / std_logic_vector")
        elif not p["constant"] or p["width"] is None:
            problems.append(f"port {p['name']}: width not a constant")
        if p["mode"] not in ("in", "out"):
            problems.append(f"port {p['name']}: mode {p['mode']}")
    for g in generics:
        if g["type"] not in GENERIC_TYPES or not g["default"]:
            problems.append(f"generic {g['name']}: type {g['type']}, "
                            f"default {'yes' if g['default'] else 'none'}")
    return problems


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """A 3-layer design analysed with --std=93c (every synthesizable file, in order)."""
    folder = tmp_path_factory.mktemp("ports")
    design = cs.make_design(folder, "odd_100_13_7_10")
    work = folder / "work93"
    work.mkdir()
    files = cs.synthesizable_files(design)
    r = ghdl("-a", "--std=93c", f"--workdir={work}", *map(str, files), cwd=folder)
    assert r.returncode == 0, r.stderr
    return design, work


def user_facing(design: Path) -> list[Path]:
    """Generated entities a user may place: every generated file with an entity (the
    hand-written helpers argmax, input_buffer, requantizer sit inside them)."""
    return [p for p in cs.synthesizable_files(design)
            if p.name not in vg.HDL_FILES and re.search(r"^entity\s", p.read_text(), re.M)]


def test_user_facing_top_levels_are_module_reference_ready(analysed):
    design, work = analysed
    name = "odd_100_13_7_10"
    files = user_facing(design)
    expected = ({f"{name}_top", f"{name}_core", f"{name}_axis"}
                | {f"{name}_l{k}_{kind}" for k in range(3) for kind in ("layer", "weights")})
    assert {p.stem for p in files} == expected
    widths = {}
    for path in files:
        r = ghdl("--file-to-xml", "--std=93c", f"--workdir={work}", str(path), cwd=design)
        assert r.returncode == 0, f"{path.name}: {r.stderr}"
        ports, generics = entity_interface(r.stdout, path.stem)
        assert ports, path.name
        assert port_problems(ports, generics) == [], path.name
        widths[path.stem] = {p["name"]: p["width"] for p in ports}
        text = path.read_text()
        clock = "aclk" if path.stem.endswith("_axis") else "clk"
        assert f'X_INTERFACE_INFO of {clock} : signal is "xilinx.com:signal:clock:1.0 {clock} CLK"' in text
        if "rst" in widths[path.stem] or "aresetn" in widths[path.stem]:
            polarity = "ACTIVE_LOW" if clock == "aclk" else "ACTIVE_HIGH"
            assert f'signal is "POLARITY {polarity}"' in text, path.name
    # the AXI4-Stream wrapper: the names Vivado infers, byte-multiple TDATA, no floating control
    axis = widths[f"{name}_axis"]
    assert set(axis) == {"aclk", "aresetn", "s_axis_tdata", "s_axis_tvalid", "s_axis_tready",
                         "s_axis_tlast", "m_axis_tdata", "m_axis_tvalid", "m_axis_tready",
                         "m_axis_tlast", "tlast_error"}
    assert axis["s_axis_tdata"] == 8 and axis["m_axis_tdata"] == 32
    assert ("ASSOCIATED_BUSIF s_axis:m_axis, ASSOCIATED_RESET aresetn"
            in (design / f"{name}_axis.vhd").read_text())
    # the widths users see in Vivado: the input address, 7 neurons x 8-bit weights of layer 1, ...
    assert widths[f"{name}_top"]["wr_addr"] == 7
    assert widths[f"{name}_l1_weights"]["dout"] == 7 * 8
    assert widths[f"{name}_l0_layer"]["x_data"] == 8


def test_the_port_check_finds_bad_ports(tmp_path):
    """Control: integer, signed, unconstrained and generic-width ports are reported."""
    src = tmp_path / "bad_ports.vhd"
    src.write_text("""library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
entity bad_ports is
  generic (W : positive);
  port (
    clk   : in  std_logic;
    count : out integer;
    value : out signed(7 downto 0);
    bus_u : in  std_logic_vector;
    bus_g : in  std_logic_vector(W - 1 downto 0);
    ok    : out std_logic_vector(3 downto 0)
  );
end entity bad_ports;
architecture rtl of bad_ports is
begin
end architecture rtl;
""")
    r = ghdl("--file-to-xml", "--std=93c", f"--workdir={tmp_path}", str(src), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ports, generics = entity_interface(r.stdout, "bad_ports")
    problems = port_problems(ports, generics)
    assert [p.split(":")[0] for p in problems] == [
        "port count", "port value", "port bus_u", "port bus_g", "generic w"], problems
    assert {p["name"]: p["width"] for p in ports}["ok"] == 4


def documented_ports(section: str) -> dict[str, str]:
    """{port: dir} from the port table of one '## `<entity>`' section of docs/entities.md."""
    rows = re.findall(r"^\| `(\w+)` \| (in|out) \|", section, re.M)
    return dict(rows)


def test_docs_port_tables_match_the_vhdl(analysed, tmp_path):
    """docs/entities.md lists exactly the ports GHDL sees, with their directions (those of
    the default design and of one with layers in flight, which has a few more), and its
    timing diagrams are valid WaveDrom JSON."""
    import json
    flight = cs.make_design(tmp_path, "flight_100_13_7_10")
    flight_work = tmp_path / "work93"
    flight_work.mkdir()
    r = ghdl("-a", "--std=93c", f"--workdir={flight_work}",
             *map(str, cs.synthesizable_files(flight)), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = (ROOT / "docs" / "entities.md").read_text()
    sections = {m.group(1): m.group(2) for m in
                re.finditer(r"^## `(<name>[^`]*)`\n(.*?)(?=^## |\Z)", text, re.M | re.S)}
    assert set(sections) == {"<name>_axis", "<name>_top", "<name>_core",
                             "<name>_l<k>_layer", "<name>_l<k>_weights"}
    for doc_name, section in sections.items():
        documented = documented_ports(section)
        seen: dict[str, str] = {}
        for (design, work), name in ((analysed, "odd_100_13_7_10"),
                                     ((flight, flight_work), "flight_100_13_7_10")):
            for k in ((0, 2) if "<k>" in doc_name else (None,)):  # a hidden and the last layer
                entity = doc_name.replace("<name>", name).replace("<k>", str(k))
                r = ghdl("--file-to-xml", "--std=93c", f"--workdir={work}",
                         str(design / f"{entity}.vhd"), cwd=design)
                assert r.returncode == 0, r.stderr
                ports, _ = entity_interface(r.stdout, entity)
                seen.update({p["name"]: p["mode"] for p in ports})
        assert documented == seen, f"docs/entities.md, {doc_name}: {documented} != {seen}"
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    assert len(blocks) >= 7
    for block in blocks:
        assert json.loads(block)["signal"]
