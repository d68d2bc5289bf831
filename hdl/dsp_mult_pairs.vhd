-- dsp_mult_pairs: N multipliers p(k) = a(k) * b in ceil(N / 2) DSP blocks: lanes 2i and
-- 2i + 1 share one, as one product of the packed operand a(2i + 1) * 2^S + a(2i) and b
-- (S = A_BITS + B_BITS, the width of one product), split again after the multiply:
--
--   clock 1: a_r(i) <= a(2i + 1) * 2^S + a(2i); b_r <= b   (the DSP blocks' input registers)
--   clock 2: m(i)   <= a_r(i) * b_r                        (their pipeline registers)
--   clock 3: p(2i)  <= the low S bits of m(i), two's complement = a(2i) * b
--            p(2i + 1) <= (m(i) - p(2i)) / 2^S             = a(2i + 1) * b
--
-- Exact: |a(2i) * b| < 2^(S - 1), so the low product never reaches into the high one's
-- bits beyond a borrow, which the split undoes (+1 when the low part is negative). Needs
-- 2 A_BITS + B_BITS + 1 <= 25 (the packed weight in the DSP48E1's 25-bit A port) and
-- S <= 16 (m fits 32 bits): 8-bit weights by 8-bit inputs, or 4-bit weights by up to
-- 12-bit inputs. tb/tb_dsp_mult_pairs.vhd checks every 8-bit weight against every input.
-- VHDL-93: analyses with ghdl --std=93c and --std=08.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

library work;
use work.bram_mlp_pkg.all;

entity dsp_mult_pairs is
  generic (
    N      : positive := 2;  -- multipliers (lanes)
    A_BITS : positive := 8;  -- a(k): two's complement
    B_BITS : positive := 8   -- b: unsigned
  );
  port (
    clk : in  std_logic;
    en  : in  std_logic;      -- clock enable of every register
    a   : in  int_vector_t(0 to N - 1);
    b   : in  natural;
    p   : out int_vector_t(0 to N - 1)
  );
end entity dsp_mult_pairs;

architecture rtl of dsp_mult_pairs is
  constant S_c     : positive := A_BITS + B_BITS;  -- bits of one product
  constant PAIRS_c : positive := (N + 1) / 2;     -- DSP blocks
  subtype a_t is integer range -2 ** (A_BITS - 1) to 2 ** (A_BITS - 1) - 1;
  -- a(2i + 1) * 2^S + a(2i): A_BITS + S_c + 1 bits (a low part below zero reaches one
  -- below the high part's range)
  subtype packed_t is integer range -2 ** (A_BITS + S_c - 1) - 2 ** (A_BITS - 1) to 2 ** (A_BITS + S_c - 1) - 1;
  subtype b_t is natural range 0 to 2 ** B_BITS - 1;
  type packed_vector_t is array (0 to PAIRS_c - 1) of packed_t;
  -- a(k), or 0 beyond the last lane (an odd N: the last block multiplies one weight)
  function lane(v : int_vector_t; k : natural) return a_t is
  begin
    if k < N then
      return v(k);
    end if;
    return 0;
  end function lane;
begin

  assert 2 * A_BITS + B_BITS <= 24 and S_c <= 16
    report "dsp_mult_pairs: two products per DSP48E1 need 2 * A_BITS + B_BITS <= 24 and A_BITS + B_BITS <= 16"
    severity failure;

  p_mult : process (clk)
    variable a_r : packed_vector_t := (others => 0);  -- input registers
    variable b_r : b_t := 0;
    variable m   : int_vector_t(0 to PAIRS_c - 1) := (others => 0);  -- pipeline registers
    variable mv  : signed(2 * S_c - 1 downto 0);
    variable lo  : integer;
  begin
    if rising_edge(clk) then
      if en = '1' then
        for i in 0 to PAIRS_c - 1 loop  -- output registers: the two products of m(i)
          mv := to_signed(m(i), 2 * S_c);
          lo := to_integer(mv(S_c - 1 downto 0));
          p(2 * i) <= lo;
          if 2 * i + 1 < N then
            if lo < 0 then  -- the low product borrowed one from the high one
              p(2 * i + 1) <= to_integer(mv(2 * S_c - 1 downto S_c)) + 1;
            else
              p(2 * i + 1) <= to_integer(mv(2 * S_c - 1 downto S_c));
            end if;
          end if;
        end loop;
        for i in 0 to PAIRS_c - 1 loop
          m(i) := a_r(i) * b_r;
        end loop;
        for i in 0 to PAIRS_c - 1 loop
          a_r(i) := lane(a, 2 * i + 1) * 2 ** S_c + lane(a, 2 * i);
        end loop;
        b_r := b;
      end if;
    end if;
  end process p_mult;

end architecture rtl;
