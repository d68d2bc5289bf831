-- bram_mlp_pkg: small helpers shared by the hand-written and the generated VHDL of bram-mlp.
--
-- The per-clock datapath works on VHDL integers: GHDL simulates integer arithmetic about
-- 140 times faster than numeric_std vectors, and synthesis builds the same hardware.
-- slv_to_int converts a std_logic_vector without numeric_std for the same reason;
-- int_to_slv uses numeric_std's conversions (wires in synthesis, no arithmetic).
-- VHDL-93: analyses with ghdl --std=93c and --std=08.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

package bram_mlp_pkg is
  -- Clocks from en to y of the requantizer (and requantizer_wide): ReLU, multiply (3: a
  -- DSP block's registers), copy the products, add the parts, round, shift, saturate.
  constant REQUANT_LATENCY_c : positive := 9;

  type int_vector_t is array (natural range <>) of integer;

  -- N multipliers in DSP blocks with their input, pipeline and output registers:
  -- p(k) = a(k) * b three enabled clocks later (hdl/dsp_mults.vhd). Instantiated as a
  -- component, so that place and route for an ECP5 part can put MULT18X18D blocks in its
  -- place (implement.py, hdl/ecp5/dsp_mults.v).
  component dsp_mults is
    generic (
      N      : positive;  -- multipliers
      A_BITS : positive;  -- a(k): two's complement, at most 18 bits
      B_BITS : positive   -- b: unsigned, at most 17 bits; A_BITS + B_BITS at most 32
    );
    port (
      clk : in  std_logic;
      en  : in  std_logic;  -- clock enable of every register
      a   : in  int_vector_t(0 to N - 1);
      b   : in  natural;
      p   : out int_vector_t(0 to N - 1)
    );
  end component dsp_mults;

  -- Value of a two's complement (is_signed) or unsigned vector; '0', 'L', 'U', 'X' count as 0.
  function slv_to_int(v : std_logic_vector; is_signed : boolean) return integer;
  -- Two's complement / unsigned vector of `bits` bits holding `value` (value must fit).
  function int_to_slv(value : integer; bits : positive) return std_logic_vector;
  -- Number of address bits for `n` words (at least 1).
  function clog2(n : positive) return positive;
end package bram_mlp_pkg;

package body bram_mlp_pkg is

  function slv_to_int(v : std_logic_vector; is_signed : boolean) return integer is
    alias v_a       : std_logic_vector(v'length - 1 downto 0) is v;
    variable result : integer := 0;
  begin
    -- a set top bit of a signed vector weighs -2^(n-1): starting from -1 and doubling
    -- through the other bits gets there without ever leaving the integer range (a 32-bit
    -- -2^31 included, where 2 ** 31 itself is not an integer)
    if is_signed and (v_a(v_a'left) = '1' or v_a(v_a'left) = 'H') then
      result := -1;
    end if;
    for b in v_a'length - 2 downto 0 loop
      result := result * 2;
      if v_a(b) = '1' or v_a(b) = 'H' then
        result := result + 1;
      end if;
    end loop;
    -- unsigned: the top bit weighs +2^(n-1)
    if not is_signed and (v_a(v_a'left) = '1' or v_a(v_a'left) = 'H') then
      result := result + 2 ** (v_a'length - 1);
    end if;
    return result;
  end function slv_to_int;

  function int_to_slv(value : integer; bits : positive) return std_logic_vector is
  begin
    -- two's complement of a negative value, the plain binary of a non-negative one (an
    -- unsigned code may use the top bit): numeric_std's conversions, which synthesis maps
    -- to wires (a loop dividing by 2 would become dividers in the netlist)
    if value < 0 then
      return std_logic_vector(to_signed(value, bits));
    end if;
    return std_logic_vector(to_unsigned(value, bits));
  end function int_to_slv;

  function clog2(n : positive) return positive is
    variable bits : positive := 1;
  begin
    while 2 ** bits < n loop
      bits := bits + 1;
    end loop;
    return bits;
  end function clog2;

end package body bram_mlp_pkg;
