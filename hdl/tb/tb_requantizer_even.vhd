-- tb_requantizer_even: the requantizers that round a tie to the even result
-- (ROUND_HALF_EVEN, for models imported from QONNX), requantizer and requantizer_wide.
-- VECTORS_FILE is tb_requantizer's: rows acc, M, S, expected y (halves up), kind (0 ReLU,
-- 1 rounding, 2 saturation, 3 random, 4 ties: one test each), expected y with ties to
-- even; the expected values come from the Python reference model
-- (quantization_functions.requantize), written by vunit_run.py.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

library vunit_lib;
context vunit_lib.vunit_context;
use vunit_lib.integer_array_pkg.all;

library work;
use work.bram_mlp_pkg.all;

entity tb_requantizer_even is
  generic (
    runner_cfg   : string;
    VECTORS_FILE : string
  );
end entity tb_requantizer_even;

architecture tb of tb_requantizer_even is
  constant CLK_PERIOD_c : time := 10 ns;
  signal clk : std_logic := '0';
  signal en  : std_logic := '0';
  signal acc : integer := 0;
  signal m   : natural := 0;
  signal s   : natural := 0;
  signal y   : std_logic_vector(7 downto 0);       -- requantizer, ties to even
  signal y_wide : std_logic_vector(7 downto 0);    -- requantizer_wide, ties to even
  signal acc_hi : integer := 0;                    -- acc = acc_hi * 2^16 + acc_lo
  signal acc_lo : natural range 0 to 65535 := 0;
  signal stop_clock : boolean := false;
begin
  test_runner_watchdog(runner, 1 ms);
  clk <= not clk after CLK_PERIOD_c / 2 when not stop_clock;

  dut : entity work.requantizer
    generic map (ACC_BITS => 32, M_BITS => 15, S_MAX => 62, ROUND_HALF_EVEN => true, ACT_BITS => 8)
    port map (clk => clk, en => en, acc => acc, m => m, s => s, y => y);

  -- the same accumulator in the two parts of a wide one
  acc_hi <= acc / 65536 - 1 when acc < 0 and acc mod 65536 /= 0 else acc / 65536;
  acc_lo <= acc mod 65536;
  dut_wide : entity work.requantizer_wide
    generic map (ACC_BITS => 48, M_BITS => 15, S_MAX => 62, ROUND_HALF_EVEN => true, ACT_BITS => 8)
    port map (clk => clk, en => en, acc_hi => acc_hi, acc_lo => acc_lo, m => m, s => s, y => y_wide);

  p_main : process
    variable vectors : integer_array_t;

    -- every row of one kind, one per clock (the requantizer takes a new acc every clock);
    -- the result of the row given at clock t is valid REQUANT_LATENCY_c clocks later
    procedure check_kind(kind : natural; what : string) is
      variable rows : integer_vector(0 to height(vectors) - 1);
      variable n    : natural := 0;
      variable v    : natural;
    begin
      for r in 0 to height(vectors) - 1 loop
        if get(vectors, 4, r) = kind then
          rows(n) := r;
          n := n + 1;
        end if;
      end loop;
      check(n > 0, what & ": no vectors of this kind in " & VECTORS_FILE);
      for t in 0 to n - 1 + REQUANT_LATENCY_c loop
        if t < n then
          acc <= get(vectors, 0, rows(t));
          m   <= get(vectors, 1, rows(t));
          s   <= get(vectors, 2, rows(t));
          en  <= '1';
        else
          en  <= '0';
        end if;
        wait until rising_edge(clk);
        if t >= REQUANT_LATENCY_c then
          v := rows(t - REQUANT_LATENCY_c);
          check_equal(to_integer(unsigned(y)), get(vectors, 5, v),
                      what & " vector " & integer'image(v) & ": acc=" & integer'image(get(vectors, 0, v)) &
                      " M=" & integer'image(get(vectors, 1, v)) & " S=" & integer'image(get(vectors, 2, v)));
          check_equal(to_integer(unsigned(y_wide)), get(vectors, 5, v),
                      what & " vector " & integer'image(v) & ", wide: acc=" & integer'image(get(vectors, 0, v)) &
                      " M=" & integer'image(get(vectors, 1, v)) & " S=" & integer'image(get(vectors, 2, v)));
        end if;
      end loop;
      info("checked " & integer'image(n) & " " & what & " requantizations, one per clock");
    end procedure check_kind;
  begin
    test_runner_setup(runner, runner_cfg);
    vectors := load_csv(VECTORS_FILE);
    while test_suite loop
      if run("test_ties") then
        check_kind(4, "ties");
      elsif run("test_rounding") then
        check_kind(1, "rounding");
      elsif run("test_saturation") then
        check_kind(2, "saturation");
      elsif run("test_random") then
        check_kind(3, "random");
      end if;
    end loop;
    stop_clock <= true;
    test_runner_cleanup(runner);
  end process p_main;
end architecture tb;
