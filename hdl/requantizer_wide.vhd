-- requantizer_wide: ReLU and requantization of one hidden-layer accumulator wider than 32
-- bits (33 to 48), the same arithmetic as requantizer:
--
--   y = min(2^ACT_BITS - 1, (max(acc, 0) * m + r) >> s),   r = 2^(s-1) if s > 0 else 0
--
-- A VHDL integer holds 32 bits, so the layer keeps such an accumulator in two parts,
-- acc = acc_hi * 2^16 + acc_lo with 0 <= acc_lo < 2^16, and hands both over. They are put
-- together here with numeric_std: once per neuron per image, not once per clock.
-- Pipeline: two registers; y is valid two clocks after en (and holds until the next).
-- VHDL-93: analyses with ghdl --std=93c and --std=08.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

entity requantizer_wide is
  generic (
    ACC_BITS : positive := 48;  -- accumulator width (two's complement), 33 .. 48
    M_BITS   : positive := 15;  -- width of the unsigned multiplier m
    S_MAX    : natural  := 62;  -- largest shift s
    ACT_BITS : positive := 8    -- width of the unsigned result y
  );
  port (
    clk    : in  std_logic;
    en     : in  std_logic;
    acc_hi : in  integer;                     -- acc / 2^16, rounded down
    acc_lo : in  natural range 0 to 65535;    -- acc mod 2^16
    m      : in  natural;
    s      : in  natural;
    y      : out std_logic_vector(ACT_BITS - 1 downto 0)
  );
end entity requantizer_wide;

architecture rtl of requantizer_wide is
  constant LO_BITS_c   : positive := 16;
  constant PROD_BITS_c : positive := ACC_BITS + M_BITS;
  constant Y_MAX_c     : unsigned(PROD_BITS_c downto 0) := to_unsigned(2 ** ACT_BITS - 1, PROD_BITS_c + 1);
  signal prod          : unsigned(PROD_BITS_c - 1 downto 0) := (others => '0');
  signal shift         : natural range 0 to S_MAX := 0;
  signal en_d          : std_logic := '0';  -- stage 2 works one clock behind stage 1
begin

  assert ACC_BITS > 32 and ACC_BITS <= 48
    report "requantizer_wide: ACC_BITS must be 33 .. 48 (requantizer takes 32 and less)"
    severity failure;

  -- stage 1: ReLU and multiply
  p_multiply : process (clk)
    variable acc : signed(ACC_BITS - 1 downto 0);
  begin
    if rising_edge(clk) then
      if en = '1' then
        acc := to_signed(acc_hi, ACC_BITS - LO_BITS_c) & signed(to_unsigned(acc_lo, LO_BITS_c));
        if acc > 0 then
          prod <= unsigned(acc) * to_unsigned(m, M_BITS);
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

end architecture rtl;
