-- argmax: index of the largest logit, the class of the network.
--
-- Ties go to the lowest index. A network with a single output (N = 1) answers a yes/no
-- question: class_out is 1 when its logit is above 0, else 0.
-- start is a one-cycle pulse while `logits` is valid (they are copied then, and only
-- copied: no comparison reads the inputs, which come from registers that may sit far
-- away), and only while idle (not before `done` of the last start). The logits are then
-- compared one per clock, as a student would by hand: logit 0 is the best so far, then
-- logits 1 .. N - 1 pass by one at a time and replace the best when they are strictly
-- greater. One comparison per clock keeps the logic between
-- registers short (comparing all logits in one clock is a chain of N - 1 comparisons:
-- too slow for 100 MHz).
-- Each comparison is made one clock ahead, into the flip-flop `beats_best`: the carry
-- chain of a comparison then ends at that one flip-flop, and the clock enable of the
-- best-so-far registers comes straight from it (comparing and enabling ~30 flip-flops in
-- the same clock was this design's slowest path on an ECP5, docs/timing.md).
-- The three numbers compared hold registers of their own (best_value, in_line, ahead) that
-- feed nothing but the comparisons and each other, so that place and route keeps them
-- beside the comparators; the logits still waiting pass through a shift register that
-- may stretch across the chip (reading the next logit straight from that shift register
-- put 3.4 ns of routing before a comparison on an ECP5, docs/timing.md).
-- While idle, the copy registers follow `logits` every clock, so the copy needs no
-- enable from `start`: each waiting logit chooses between following and shifting by a
-- copy of `scanning` of its own (scan_rep, beside its bits). One enable from `start` to
-- the ~200 copied bits was the slowest path of a folded 784-256-10 on an ECP5: the last
-- layer's done -> 9 ns across the die -> their clock enables (docs/timing.md).
-- class_out is registered with the last comparison; `done` pulses with it, N + 1 clocks
-- after start (the latency is N + 1: the copy, then one clock per logit; 1 for N = 1).
-- The logits are compared as numeric_std signed numbers of ACC_BITS bits, any width:
-- a comparison is then a carry chain as long as the logit (VHDL integers would be 32 bits
-- always, and wider logits do not fit in one).
-- VHDL-93: analyses with ghdl --std=93c and --std=08.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

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
  -- the logits after `ahead`, the next one in the low bits (shifted down one logit per clock)
  signal waiting    : std_logic_vector(N * ACC_BITS - 1 downto 0) := (others => '0');
  signal in_line    : signed(ACC_BITS - 1 downto 0) := (others => '0');  -- the logit compared now (its comparison is in beats_best)
  signal ahead      : signed(ACC_BITS - 1 downto 0) := (others => '0');  -- the logit after it (compared now, for the next clock)
  signal next_index : natural range 0 to N - 1 := 0;  -- index of the logit in in_line
  signal best_value : signed(ACC_BITS - 1 downto 0) := (others => '0');  -- the largest logit so far
  signal best_index : natural range 0 to N - 1 := 0;
  signal scanning   : std_logic := '0';
  signal beats_best : std_logic := '0';  -- in_line is greater than the best so far
  attribute keep : string;
begin

  assert 2 ** CLASS_BITS >= N
    report "argmax: CLASS_BITS too small for N classes"
    severity failure;

  -- LAB EXERCISE BEGIN (vhdl_generator.py --exercise 2 writes this region as a TODO)
  g_yes_no : if N = 1 generate
    -- one output neuron: "yes" when its logit is positive (latency 1)
    p_argmax : process (clk)
    begin
      if rising_edge(clk) then
        done <= start;
        if start = '1' then
          if signed(logits) > 0 then
            class_out <= int_to_slv(1, CLASS_BITS);
          else
            class_out <= int_to_slv(0, CLASS_BITS);
          end if;
        end if;
        if rst = '1' then
          done <= '0';
        end if;
      end if;
    end process p_argmax;
  end generate g_yes_no;

  g_classes : if N > 1 generate
    signal ending    : std_logic;  -- the last comparison is made now (scanning ends)
    -- scanning again, one register per waiting logit (g_scan); the name ends in _rep: the
    -- open flow keeps the copies, Vivado for keep
    signal scan_reps : std_logic_vector(0 to N - 1);
  begin
    ending <= '1' when scanning = '1' and next_index = N - 1 else '0';

    -- the copies of scanning, one beside each waiting logit (the last two slots hold zeros)
    g_scan : for i in 0 to N - 1 generate
      g_copy : if i <= N - 3 generate
        signal scan_rep : std_logic := '0';
        attribute keep of scan_rep : signal is "true";
      begin
        p_scan_rep : process (clk)
        begin
          if rising_edge(clk) then
            if start = '1' then
              scan_rep <= '1';
            elsif ending = '1' then
              scan_rep <= '0';
            end if;
            if rst = '1' then
              scan_rep <= '0';
            end if;
          end if;
        end process p_scan_rep;
        scan_reps(i) <= scan_rep;
      end generate g_copy;
      g_zero : if i > N - 3 generate
        scan_reps(i) <= '0';
      end generate g_zero;
    end generate g_scan;

    p_argmax : process (clk)
      -- in_line - ahead and best_value - ahead, negative when ahead is greater
      variable line_minus, best_minus : signed(ACC_BITS downto 0);
    begin
      if rising_edge(clk) then
        done <= '0';
        -- look ahead, every clock: the logit ahead against what will be the best so far
        -- (in_line if it beats the best now, else the best). This is the loop that sets
        -- the argmax's clock (best_value -> compare -> beats_best -> best_value's enable),
        -- so each comparison is a subtraction one bit wider than the logits: ahead is
        -- greater exactly when the difference is negative, its sign bit, the end of one
        -- carry chain; one LUT then picks (a `>` of signed numbers put several LUT levels
        -- after the carry chain on an ECP5, docs/timing.md). On the start clock
        -- beats_best is set, which makes logit 0 the first best (there is none before it);
        -- outside a scan nobody reads it
        line_minus := resize(in_line, ACC_BITS + 1) - resize(ahead, ACC_BITS + 1);
        best_minus := resize(best_value, ACC_BITS + 1) - resize(ahead, ACC_BITS + 1);
        beats_best <= start or (beats_best and line_minus(ACC_BITS))
                      or (not beats_best and best_minus(ACC_BITS));
        -- the logits: followed while idle (the values of the start clock are kept), then
        -- shifted down one per clock; waiting slot i holds logit i + 2 (the last two slots
        -- zeros)
        for i in 0 to N - 3 loop
          if scan_reps(i) = '1' then
            waiting((i + 1) * ACC_BITS - 1 downto i * ACC_BITS) <=
              waiting((i + 2) * ACC_BITS - 1 downto (i + 1) * ACC_BITS);
          else
            waiting((i + 1) * ACC_BITS - 1 downto i * ACC_BITS) <=
              logits((i + 3) * ACC_BITS - 1 downto (i + 2) * ACC_BITS);
          end if;
        end loop;
        waiting(N * ACC_BITS - 1 downto (N - 2) * ACC_BITS) <= (others => '0');
        if scanning = '0' then
          -- clock 1 (start) and before: logit 0 in line, logit 1 ahead, the rest wait;
          -- nothing is compared from the layer's logit registers, which may sit far away
          in_line <= signed(logits(ACC_BITS - 1 downto 0));
          ahead   <= signed(logits(2 * ACC_BITS - 1 downto ACC_BITS));
        else
          -- every logit moves one place along the line
          in_line <= ahead;
          ahead   <= signed(waiting(ACC_BITS - 1 downto 0));
        end if;
        if start = '1' then
          next_index <= 0;
          scanning   <= '1';
        elsif scanning = '1' then
          -- clocks 2 .. N + 1: in_line replaces the best so far if it is strictly greater
          -- (beats_best, compared last clock): the lowest index wins a tie
          if beats_best = '1' then
            best_value <= in_line;
            best_index <= next_index;
          end if;
          if ending = '0' then
            next_index <= next_index + 1;
          else
            -- clock N + 1: the last logit decides between itself and the best so far
            if beats_best = '1' then
              class_out <= int_to_slv(next_index, CLASS_BITS);
            else
              class_out <= int_to_slv(best_index, CLASS_BITS);
            end if;
            done     <= '1';
            scanning <= '0';
          end if;
        end if;
        if rst = '1' then
          done     <= '0';
          scanning <= '0';
        end if;
      end if;
    end process p_argmax;

    -- pragma translate_off
    p_start_check : process (clk)
    begin
      if rising_edge(clk) then
        assert not (rst = '0' and start = '1' and scanning = '1')
          report "argmax: start while comparing (start only after done of the last start)"
          severity failure;
      end if;
    end process p_start_check;
    -- pragma translate_on
  end generate g_classes;
  -- LAB EXERCISE END

end architecture rtl;
