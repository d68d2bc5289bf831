-- dsp_mults: N multipliers in DSP blocks, p(k) = a(k) * b, each in the three registers of
-- its DSP block.
--
--   clock 1: a_r(k) <= a(k); b_r <= b     (the DSP blocks' input registers)
--   clock 2: m(k)   <= a_r(k) * b_r       (their pipeline registers)
--   clock 3: p(k)   <= m(k)               (their output registers)
--
-- p follows a and b by 3 clocks of en = '1' (en is the registers' clock enable: with en =
-- '0' everything holds). Written so that synthesis puts all three registers inside the
-- DSP blocks (Vivado: DSP48E1 AREG/BREG, MREG, PREG, CE pins): then each multiplier starts
-- and ends in registers beside it, and the paths into and out of the blocks are plain
-- wires. For ECP5 parts, place and route (implement.py) builds the same entity from
-- MULT18X18D blocks with these registers (hdl/ecp5/dsp_mults.v), because the open
-- synthesis does not move registers into that block by itself.
-- a(k) are two's complement (at most A_BITS bits), b unsigned (B_BITS bits), all integers
-- (cheap to simulate: one process for all N); A_BITS + B_BITS <= 32 so p(k) fits.
-- VHDL-93: analyses with ghdl --std=93c and --std=08.
library ieee;
use ieee.std_logic_1164.all;

library work;
use work.bram_mlp_pkg.all;

entity dsp_mults is
  generic (
    N      : positive := 1;  -- multipliers
    A_BITS : positive := 8;  -- a(k): two's complement, at most 18 bits
    B_BITS : positive := 8   -- b: unsigned, at most 17 bits
  );
  port (
    clk : in  std_logic;
    en  : in  std_logic;      -- clock enable of every register
    a   : in  int_vector_t(0 to N - 1);
    b   : in  natural;
    p   : out int_vector_t(0 to N - 1)
  );
end entity dsp_mults;

architecture rtl of dsp_mults is
  -- the operands' own widths (a VHDL integer has 32 bits: without these ranges synthesis
  -- would build 32 x 32-bit multipliers, three DSP blocks each)
  subtype a_t is integer range -2 ** (A_BITS - 1) to 2 ** (A_BITS - 1) - 1;
  subtype b_t is natural range 0 to 2 ** B_BITS - 1;
  type a_vector_t is array (0 to N - 1) of a_t;
begin

  assert A_BITS <= 18 and B_BITS <= 17 and A_BITS + B_BITS <= 32
    report "dsp_mults: an 18 x 18 DSP multiplier takes a of up to 18 bits and b of up to 17; the product must fit 32 bits"
    severity failure;

  -- The input and pipeline registers are variables, read before they are written in each
  -- clock (so they hold the previous clock's values: registers, for synthesis as for the
  -- simulation): written from the output backwards, p, m, then a_r and b_r. Variables
  -- cost GHDL far less than signals, and this runs for every neuron on every clock.
  p_mult : process (clk)
    variable a_r : a_vector_t := (others => 0);  -- input registers
    variable b_r : b_t := 0;
    variable m   : int_vector_t(0 to N - 1) := (others => 0);  -- pipeline registers
  begin
    if rising_edge(clk) then
      if en = '1' then
        p <= m;                    -- output registers: the product of two clocks ago
        for k in 0 to N - 1 loop
          m(k) := a_r(k) * b_r;    -- the product of last clock's inputs
        end loop;
        for k in 0 to N - 1 loop
          a_r(k) := a(k);
        end loop;
        b_r := b;
      end if;
    end if;
  end process p_mult;

end architecture rtl;
