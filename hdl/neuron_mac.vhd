-- neuron_mac: the multiply-accumulate of one neuron (lab 1).
--
--   load = '1':  acc <= bias                      (a new image starts)
--   en   = '1':  acc <= acc + w * x               (one input per clock)
--
-- x is an unsigned input code (a pixel 0..255), w a two's complement weight (x"F4" = -12),
-- acc the two's complement accumulator; acc is registered: it shows the sum one clock
-- after load / en. Every neuron of a layer does exactly this, all on the same address
-- (the generated <name>_l<k>_layer computes it for all its neurons in one process).
-- VHDL-93: analyses with ghdl --std=93c and --std=08.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

entity neuron_mac is
  generic (
    X_BITS   : positive := 8;   -- input code width (unsigned)
    W_BITS   : positive := 8;   -- weight width (two's complement)
    ACC_BITS : positive := 32   -- accumulator width (two's complement)
  );
  port (
    clk  : in  std_logic;
    load : in  std_logic;  -- acc <= bias
    bias : in  std_logic_vector(ACC_BITS - 1 downto 0);
    en   : in  std_logic;  -- acc <= acc + w * x
    x    : in  std_logic_vector(X_BITS - 1 downto 0);
    w    : in  std_logic_vector(W_BITS - 1 downto 0);
    acc  : out std_logic_vector(ACC_BITS - 1 downto 0)
  );
end entity neuron_mac;

architecture rtl of neuron_mac is
  signal acc_r : signed(ACC_BITS - 1 downto 0) := (others => '0');
begin

  acc <= std_logic_vector(acc_r);

  -- LAB EXERCISE BEGIN (vhdl_generator.py --exercise 1 writes this region as a TODO)
  p_mac : process (clk)
    variable product : signed(W_BITS + X_BITS downto 0);  -- signed w times unsigned x
  begin
    if rising_edge(clk) then
      if load = '1' then
        acc_r <= signed(bias);
      elsif en = '1' then
        -- '0' & x makes the unsigned pixel a (positive) signed number one bit wider
        product := signed(w) * signed('0' & x);
        acc_r   <= acc_r + resize(product, ACC_BITS);
      end if;
    end if;
  end process p_mac;
  -- LAB EXERCISE END

end architecture rtl;
