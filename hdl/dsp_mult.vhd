-- dsp_mult: one neuron's multiplier, a * b, in the three registers of a DSP block.
--
--   clock 1: a_r <= a; b_r <= b        (the DSP block's input registers)
--   clock 2: m   <= a_r * b_r          (its pipeline register)
--   clock 3: p   <= m                  (its output register)
--
-- p follows a and b by 3 clocks, a new pair every clock. Written so that synthesis puts
-- all three registers inside the DSP block (Vivado: DSP48E1 AREG/BREG, MREG, PREG): then
-- the multiplier starts and ends in registers beside it, and the paths into and out of the
-- block are plain wires. For ECP5 parts, place and route (implement.py) uses the same
-- entity built from a MULT18X18D with these registers (hdl/ecp5/dsp_mult.v), because the
-- open synthesis does not move registers into that block by itself.
-- a is a two's complement weight, b an unsigned input code; integers: cheap to simulate.
-- p is a plain integer (32 bits in a netlist, a * b sign-extended): a subtype of the
-- product's exact range would not do for 17 x 15 bits, whose span GHDL cannot hold.
-- VHDL-93: analyses with ghdl --std=93c and --std=08.
library ieee;
use ieee.std_logic_1164.all;

entity dsp_mult is
  generic (
    A_BITS : positive := 8;  -- weight width (two's complement), at most 18
    B_BITS : positive := 8   -- input width (unsigned), at most 17; A_BITS + B_BITS at most 32
  );
  port (
    clk : in  std_logic;
    a   : in  integer range -2 ** (A_BITS - 1) to 2 ** (A_BITS - 1) - 1;
    b   : in  natural range 0 to 2 ** B_BITS - 1;
    p   : out integer := 0  -- a * b (32 bits in a netlist)
  );
end entity dsp_mult;

architecture rtl of dsp_mult is
  signal a_r : integer range -2 ** (A_BITS - 1) to 2 ** (A_BITS - 1) - 1 := 0;
  signal b_r : natural range 0 to 2 ** B_BITS - 1 := 0;
  signal m   : integer := 0;
begin

  assert A_BITS <= 18 and B_BITS <= 17 and A_BITS + B_BITS <= 32
    report "dsp_mult: one 18 x 18 DSP multiplier takes a of up to 18 bits and b of up to 17; the product must fit 32 bits"
    severity failure;

  p_mult : process (clk)
  begin
    if rising_edge(clk) then
      a_r <= a;          -- input registers
      b_r <= b;
      m   <= a_r * b_r;  -- pipeline register
      p   <= m;          -- output register
    end if;
  end process p_mult;

end architecture rtl;
