-- requantizer: ReLU and requantization of one hidden-layer accumulator.
--
--   y = min(2^ACT_BITS - 1, (max(acc, 0) * m + r) >> s),   r = 2^(s-1) if s > 0 else 0
--
-- which rounds acc * m / 2^s half up and saturates. acc * m can exceed 32 bits, so this
-- is done with numeric_std.
-- Pipeline: five registers, one step of the formula each, so that no clock holds more than
-- one multiply, one add or one shift (timing: the design is meant to run above 125 MHz).
-- A new acc may enter every clock; y is valid REQUANT_LATENCY_c (5) clocks after en and
-- holds until the next result.
-- VHDL-93: analyses with ghdl --std=93c and --std=08.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

entity requantizer is
  generic (
    ACC_BITS : positive := 32;  -- accumulator width (two's complement), at most 32
    M_BITS   : positive := 15;  -- width of the unsigned multiplier m
    S_MAX    : natural  := 62;  -- largest shift s
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
  -- max(acc, 0) is split into two 17-bit parts, so that each part times m fits one
  -- 18 x 18 multiplier (a DSP48E1 or an ECP5 MULT18X18D) with its own register
  constant PART_BITS_c : positive := 17;
  constant PART_PROD_c : positive := PART_BITS_c + M_BITS;   -- one part times m
  constant PROD_BITS_c : positive := 2 * PART_BITS_c + M_BITS;  -- max(acc, 0) * m
  constant SUM_BITS_c  : positive := PROD_BITS_c + 1;  -- one bit more: the rounding add never wraps
  constant Y_MAX_c     : unsigned(SUM_BITS_c - 1 downto 0) := to_unsigned(2 ** ACT_BITS - 1, SUM_BITS_c);

  -- valid(k): stage k + 1 holds a result
  signal valid    : std_logic_vector(3 downto 0) := (others => '0');
  -- stage 1: the two partial products, and half an LSB of the result (r)
  signal prod_lo  : unsigned(PART_PROD_c - 1 downto 0) := (others => '0');
  signal prod_hi  : unsigned(PART_PROD_c - 1 downto 0) := (others => '0');
  signal half_1   : unsigned(SUM_BITS_c - 1 downto 0) := (others => '0');
  -- stage 2: max(acc, 0) * m
  signal prod     : unsigned(PROD_BITS_c - 1 downto 0) := (others => '0');
  signal half_2   : unsigned(SUM_BITS_c - 1 downto 0) := (others => '0');
  -- stage 3: + r
  signal rounded  : unsigned(SUM_BITS_c - 1 downto 0) := (others => '0');
  -- stage 4: >> s
  signal shifted  : unsigned(SUM_BITS_c - 1 downto 0) := (others => '0');
  -- the shift s travelling with its value through stages 1 .. 3
  type shift_pipe_t is array (1 to 3) of natural range 0 to S_MAX;
  signal shift    : shift_pipe_t := (others => 0);
begin

  assert ACC_BITS <= 32
    report "requantizer: ACC_BITS must be at most 32 (requantizer_wide takes wider ones)"
    severity failure;

  -- LAB EXERCISE BEGIN (vhdl_generator.py --exercise 3 writes this region as a TODO)
  p_requantize : process (clk)
    variable a : unsigned(2 * PART_BITS_c - 1 downto 0);
  begin
    if rising_edge(clk) then
      valid <= valid(2 downto 0) & en;

      -- stage 1: ReLU, then each 17-bit part of max(acc, 0) times m; r = 2^(s-1)
      if en = '1' then
        if acc > 0 then
          a := to_unsigned(acc, 2 * PART_BITS_c);
        else
          a := (others => '0');
        end if;
        prod_lo <= a(PART_BITS_c - 1 downto 0) * to_unsigned(m, M_BITS);
        prod_hi <= a(2 * PART_BITS_c - 1 downto PART_BITS_c) * to_unsigned(m, M_BITS);
        if s > 0 then
          half_1 <= shift_left(to_unsigned(1, SUM_BITS_c), s - 1);
        else
          half_1 <= (others => '0');
        end if;
        shift(1) <= s;
      end if;

      -- stage 2: the parts put together: max(acc, 0) * m
      if valid(0) = '1' then
        prod     <= shift_left(resize(prod_hi, PROD_BITS_c), PART_BITS_c) + resize(prod_lo, PROD_BITS_c);
        half_2   <= half_1;
        shift(2) <= shift(1);
      end if;

      -- stage 3: add half an LSB of the result
      if valid(1) = '1' then
        rounded  <= resize(prod, SUM_BITS_c) + half_2;
        shift(3) <= shift(2);
      end if;

      -- stage 4: shift right by s
      if valid(2) = '1' then
        shifted <= shift_right(rounded, shift(3));
      end if;

      -- stage 5: saturate at 2^ACT_BITS - 1
      if valid(3) = '1' then
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
