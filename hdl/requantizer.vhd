-- requantizer: ReLU and requantization of one hidden-layer accumulator.
--
--   y = min(2^ACT_BITS - 1, (max(acc, 0) * m + r) >> s),   r = 2^(s-1) if s > 0 else 0
--
-- which rounds acc * m / 2^s half up and saturates. acc * m can exceed 32 bits, so this
-- is done with numeric_std; it runs once per neuron per image, not once per clock.
-- Pipeline: two registers; y is valid two clocks after en (and holds until the next).
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
  constant PROD_BITS_c : positive := ACC_BITS + M_BITS;
  constant Y_MAX_c     : unsigned(PROD_BITS_c downto 0) := to_unsigned(2 ** ACT_BITS - 1, PROD_BITS_c + 1);
  signal prod          : unsigned(PROD_BITS_c - 1 downto 0) := (others => '0');
  signal shift         : natural range 0 to S_MAX := 0;
  signal en_d          : std_logic := '0';  -- stage 2 works one clock behind stage 1
begin

  assert ACC_BITS <= 32
    report "requantizer: ACC_BITS must be at most 32 (requantizer_wide takes wider ones)"
    severity failure;

  -- LAB EXERCISE BEGIN (vhdl_generator.py --exercise 3 writes this region as a TODO)
  -- stage 1: ReLU and multiply
  p_multiply : process (clk)
  begin
    if rising_edge(clk) then
      if en = '1' then
        if acc > 0 then
          prod <= to_unsigned(acc, ACC_BITS) * to_unsigned(m, M_BITS);
        else
          prod <= (others => '0');
        end if;
        shift <= s;
      end if;
      en_d <= en;
    end if;
  end process p_multiply;

  -- stage 2: add half an LSB, shift right, saturate
  p_round : process (clk)
    variable sum : unsigned(PROD_BITS_c downto 0);  -- one bit more: the rounding add never wraps
  begin
    if rising_edge(clk) then
      if en_d = '1' then
        sum := resize(prod, PROD_BITS_c + 1);
        if shift > 0 then
          sum := sum + shift_left(to_unsigned(1, PROD_BITS_c + 1), shift - 1);
        end if;
        sum := shift_right(sum, shift);
        if sum > Y_MAX_c then
          y <= std_logic_vector(Y_MAX_c(ACT_BITS - 1 downto 0));
        else
          y <= std_logic_vector(sum(ACT_BITS - 1 downto 0));
        end if;
      end if;
    end if;
  end process p_round;
  -- LAB EXERCISE END

end architecture rtl;
