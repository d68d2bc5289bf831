-- argmax_wide: index of the largest logit, for logits wider than 32 bits (33 to 48).
--
-- The same rule as argmax (ties go to the lowest index; a single output answers "logit
-- above 0"), with the logits compared as numeric_std signed numbers, since a VHDL integer
-- holds only 32 bits. It runs once per image, so numeric_std costs nothing in simulation.
-- start is a one-cycle pulse while `logits` is valid; class_out is registered and `done`
-- pulses one cycle later (latency 1).
-- VHDL-93: analyses with ghdl --std=93c and --std=08.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

entity argmax_wide is
  generic (
    N          : positive := 10;  -- number of logits
    ACC_BITS   : positive := 48;  -- width of one logit (two's complement)
    CLASS_BITS : positive := 4    -- width of class_out
  );
  port (
    clk       : in  std_logic;
    rst       : in  std_logic;
    start     : in  std_logic;
    logits    : in  std_logic_vector(N * ACC_BITS - 1 downto 0);  -- logit j in bits (j+1)*ACC_BITS-1 .. j*ACC_BITS
    done      : out std_logic;
    class_out : out std_logic_vector(CLASS_BITS - 1 downto 0)
  );
end entity argmax_wide;

architecture rtl of argmax_wide is
begin

  assert 2 ** CLASS_BITS >= N
    report "argmax_wide: CLASS_BITS too small for N classes"
    severity failure;

  p_argmax : process (clk)
    variable best_value : signed(ACC_BITS - 1 downto 0);
    variable best_index : natural range 0 to N - 1;
    variable value      : signed(ACC_BITS - 1 downto 0);
  begin
    if rising_edge(clk) then
      if rst = '1' then
        done <= '0';
      else
        done <= start;
      end if;
      if start = '1' then
        best_index := 0;
        best_value := signed(logits(ACC_BITS - 1 downto 0));
        for j in 1 to N - 1 loop
          value := signed(logits((j + 1) * ACC_BITS - 1 downto j * ACC_BITS));
          if value > best_value then  -- strictly greater: the lowest index wins a tie
            best_value := value;
            best_index := j;
          end if;
        end loop;
        if N = 1 then
          -- one output neuron: "yes" when its logit is positive
          if best_value > 0 then
            class_out <= std_logic_vector(to_unsigned(1, CLASS_BITS));
          else
            class_out <= std_logic_vector(to_unsigned(0, CLASS_BITS));
          end if;
        else
          class_out <= std_logic_vector(to_unsigned(best_index, CLASS_BITS));
        end if;
      end if;
    end if;
  end process p_argmax;

end architecture rtl;
