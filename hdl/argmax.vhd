-- argmax: index of the largest logit, the class of the network.
--
-- Ties go to the lowest index. A network with a single output (N = 1) answers a yes/no
-- question: class_out is 1 when its logit is above 0, else 0.
-- start is a one-cycle pulse while `logits` is valid; class_out is registered and `done`
-- pulses one cycle later (latency 1).
-- VHDL-93: analyses with ghdl --std=93c and --std=08.
library ieee;
use ieee.std_logic_1164.all;

library work;
use work.bram_mlp_pkg.all;

entity argmax is
  generic (
    N          : positive := 10;  -- number of logits
    ACC_BITS   : positive := 32;  -- width of one logit (two's complement)
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
end entity argmax;

architecture rtl of argmax is
begin

  assert ACC_BITS <= 32
    report "argmax: ACC_BITS must be at most 32 (logits are compared as VHDL integers; argmax_wide takes wider ones)"
    severity failure;
  assert 2 ** CLASS_BITS >= N
    report "argmax: CLASS_BITS too small for N classes"
    severity failure;

  -- LAB EXERCISE BEGIN (vhdl_generator.py --exercise 2 writes this region as a TODO)
  p_argmax : process (clk)
    variable best_value : integer;
    variable best_index : natural range 0 to N - 1;
    variable value      : integer;
  begin
    if rising_edge(clk) then
      if rst = '1' then
        done <= '0';
      else
        done <= start;
      end if;
      if start = '1' then
        best_index := 0;
        best_value := slv_to_int(logits(ACC_BITS - 1 downto 0), true);
        for j in 1 to N - 1 loop
          value := slv_to_int(logits((j + 1) * ACC_BITS - 1 downto j * ACC_BITS), true);
          if value > best_value then  -- strictly greater: the lowest index wins a tie
            best_value := value;
            best_index := j;
          end if;
        end loop;
        if N = 1 then
          -- one output neuron: "yes" when its logit is positive
          if best_value > 0 then
            class_out <= int_to_slv(1, CLASS_BITS);
          else
            class_out <= int_to_slv(0, CLASS_BITS);
          end if;
        else
          class_out <= int_to_slv(best_index, CLASS_BITS);
        end if;
      end if;
    end if;
  end process p_argmax;
  -- LAB EXERCISE END

end architecture rtl;
