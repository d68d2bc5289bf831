-- requantizer: ReLU and requantization of one hidden-layer accumulator.
--
--   y = min(2^ACT_BITS - 1, (max(acc, 0) * m + r) >> s),   r = 2^(s-1) if s > 0 else 0
--
-- which rounds acc * m / 2^s half up and saturates; with ROUND_HALF_EVEN a tie goes to the
-- even result instead (r = 2^(s-1) - 1 + bit s of max(acc, 0) * m: QONNX's ROUND, for
-- models trained with Brevitas). acc * m can exceed 32 bits, so the sum
-- and what follows are done with numeric_std.
-- Pipeline, one step of the formula per clock, so that no clock holds more than one
-- multiply, add or shift (the design is meant to run above 125 MHz):
--   clock 1:     ReLU; max(acc, 0) split into two 16-bit parts
--   clocks 2-4:  each part times m, in a DSP block with its three registers (dsp_mults)
--   clock 5:     the products copied beside the add of clock 6 (the DSP blocks may sit
--                far from it: their output register straight into the add was a slowest
--                path on an ECP5, 5.5 ns of routing, docs/timing.md)
--   clock 6:     the parts put together: max(acc, 0) * m
--   clock 7:     + r          clock 8: >> s          clock 9: saturate
-- A new acc may enter every clock; y is valid REQUANT_LATENCY_c (9) clocks after en and
-- holds until the next result.
-- VHDL-93: analyses with ghdl --std=93c and --std=08.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

library work;
use work.bram_mlp_pkg.all;

entity requantizer is
  generic (
    ACC_BITS : positive := 32;  -- accumulator width (two's complement), at most 32
    M_BITS   : positive := 15;  -- width of the unsigned multiplier m (at most 15)
    S_MAX    : natural  := 62;  -- largest shift s
    ROUND_HALF_EVEN : boolean := false;  -- a tie: false up, true to the even result
    ACT_BITS : positive := 8    -- width of the unsigned result y
  );
  port (
    clk : in  std_logic;
    en  : in  std_logic;
    acc : in  integer;
    m   : in  natural;
    s   : in  natural;
    y   : out std_logic_vector(ACT_BITS - 1 downto 0)
  );
end entity requantizer;

architecture rtl of requantizer is
  constant PART_BITS_c : positive := 16;  -- a part times m fits a VHDL integer and an 18 x 18 multiplier
  constant N_PARTS_c   : positive := 2;   -- max(acc, 0) has at most 31 bits
  constant PROD_BITS_c : positive := N_PARTS_c * PART_BITS_c + M_BITS;  -- max(acc, 0) * m
  constant SUM_BITS_c  : positive := PROD_BITS_c + 1;  -- one bit more: the rounding add never wraps
  constant Y_MAX_c     : unsigned(SUM_BITS_c - 1 downto 0) := to_unsigned(2 ** ACT_BITS - 1, SUM_BITS_c);
  constant MULT_c      : positive := 3;   -- clocks of dsp_mults

  type half_pipe_t is array (1 to 1 + MULT_c + 2) of unsigned(SUM_BITS_c - 1 downto 0);
  type shift_pipe_t is array (1 to 1 + MULT_c + 3) of natural range 0 to S_MAX;

  -- valid(k): stage k + 1 holds a value
  signal valid    : std_logic_vector(REQUANT_LATENCY_c - 2 downto 0) := (others => '0');
  -- stage 1: the parts of max(acc, 0) and m; r and s travel along with them
  signal parts    : int_vector_t(0 to N_PARTS_c - 1) := (others => 0);  -- 0 .. 2^16 - 1 each
  signal m_r      : natural range 0 to 2 ** M_BITS - 1 := 0;
  signal half     : half_pipe_t := (others => (others => '0'));  -- r, clocks 1 .. 6
  signal shift    : shift_pipe_t := (others => 0);                -- s, clocks 1 .. 7
  -- stage 4: each part times m (the DSP blocks' output registers)
  signal part_products : int_vector_t(0 to N_PARTS_c - 1);
  -- stage 5: the same products, in registers beside the add
  signal products : int_vector_t(0 to N_PARTS_c - 1) := (others => 0);
  -- stages 6 .. 8
  signal prod     : unsigned(PROD_BITS_c - 1 downto 0) := (others => '0');
  signal rounded  : unsigned(SUM_BITS_c - 1 downto 0) := (others => '0');
  signal shifted  : unsigned(SUM_BITS_c - 1 downto 0) := (others => '0');
begin

  assert ACC_BITS <= 32 and M_BITS <= 15
    report "requantizer: ACC_BITS must be at most 32 (requantizer_wide takes wider ones), M_BITS at most 15"
    severity failure;

  -- Clocks 2 .. 4: each part of max(acc, 0) times m, in a DSP block.
  i_mults : dsp_mults
    generic map (
      N      => N_PARTS_c,
      A_BITS => PART_BITS_c + 1,  -- a part as a non-negative two's complement number
      B_BITS => M_BITS
    )
    port map (
      clk => clk,
      en  => '1',
      a   => parts,
      b   => m_r,
      p   => part_products
    );

  -- LAB EXERCISE BEGIN (vhdl_generator.py --exercise 3 writes this region as a TODO)
  p_requantize : process (clk)
    variable acc_s : signed(N_PARTS_c * PART_BITS_c - 1 downto 0);
    variable a : unsigned(N_PARTS_c * PART_BITS_c - 1 downto 0);
    variable p : unsigned(PROD_BITS_c - 1 downto 0);
  begin
    if rising_edge(clk) then
      valid <= valid(valid'high - 1 downto 0) & en;

      -- clock 1: ReLU, then max(acc, 0) in 16-bit parts for the multipliers; r = 2^(s-1).
      -- max(acc, 0) is acc when its sign bit is 0, else 0: one bit decides, no 32-bit
      -- comparison in front of the 32 part registers
      if en = '1' then
        acc_s := to_signed(acc, N_PARTS_c * PART_BITS_c);
        if acc_s(acc_s'high) = '0' then
          a := unsigned(acc_s);
        else
          a := (others => '0');
        end if;
        for k in 0 to N_PARTS_c - 1 loop
          parts(k) <= to_integer(a((k + 1) * PART_BITS_c - 1 downto k * PART_BITS_c));
        end loop;
        m_r <= m;
        if s > 0 then
          half(1) <= shift_left(to_unsigned(1, SUM_BITS_c), s - 1);
        else
          half(1) <= (others => '0');
        end if;
        shift(1) <= s;
      end if;
      -- r and s wait while the DSP blocks multiply and the products are copied (clocks 2 .. 5)
      for k in 2 to half'high loop
        half(k) <= half(k - 1);
      end loop;
      for k in 2 to shift'high loop
        shift(k) <= shift(k - 1);
      end loop;

      -- clock 5: the products copied, beside the add (every clock: later stages look at valid)
      products <= part_products;

      -- clock 6: the parts put together: max(acc, 0) * m = part 0's product + part 1's
      -- times 2^16. The low 16 bits are part 0's own: only the bits above them take an add
      -- (a 31-bit carry chain, not 47)
      if valid(4) = '1' then
        p := to_unsigned(products(0), PROD_BITS_c);
        prod(PART_BITS_c - 1 downto 0) <= p(PART_BITS_c - 1 downto 0);
        prod(PROD_BITS_c - 1 downto PART_BITS_c) <= p(PROD_BITS_c - 1 downto PART_BITS_c)
          + to_unsigned(products(1), PROD_BITS_c - PART_BITS_c);
      end if;

      -- clock 7: add half an LSB of the result (half rounding to even: 1 less when the
      -- result's lowest bit, bit s of the product, is 0, so that a tie stays even)
      if valid(5) = '1' then
        if ROUND_HALF_EVEN and shift(6) > 0
           and (shift(6) >= PROD_BITS_c or prod(shift(6) mod PROD_BITS_c) = '0') then
          rounded <= resize(prod, SUM_BITS_c) + half(6) - 1;
        else
          rounded <= resize(prod, SUM_BITS_c) + half(6);
        end if;
      end if;

      -- clock 8: shift right by s
      if valid(6) = '1' then
        shifted <= shift_right(rounded, shift(7));
      end if;

      -- clock 9: saturate at 2^ACT_BITS - 1
      if valid(7) = '1' then
        if shifted > Y_MAX_c then
          y <= std_logic_vector(Y_MAX_c(ACT_BITS - 1 downto 0));
        else
          y <= std_logic_vector(shifted(ACT_BITS - 1 downto 0));
        end if;
      end if;
    end if;
  end process p_requantize;
  -- LAB EXERCISE END

end architecture rtl;
