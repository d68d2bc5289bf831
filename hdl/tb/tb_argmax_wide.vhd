-- tb_argmax_wide: tb_argmax's rows for the argmax of logits wider than 32 bits (40 here,
-- the values sign-extended; a VHDL integer holds 32): the index of the largest logit,
-- the lowest index on ties; a single-output network says 1 when its logit is above 0.
-- Expected values are written here by hand (or by the definition, first_max, for the
-- exhaustive tests).
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

library vunit_lib;
context vunit_lib.vunit_context;

entity tb_argmax_wide is
  generic (runner_cfg : string);
end entity tb_argmax_wide;

architecture tb of tb_argmax_wide is
  constant CLK_PERIOD_c : time := 10 ns;
  constant BITS_c       : positive := 40;
  type int_array_t is array (natural range <>) of integer;

  signal clk        : std_logic := '0';
  signal stop_clock : boolean := false;
  signal start4     : std_logic := '0';
  signal logits4    : std_logic_vector(4 * BITS_c - 1 downto 0) := (others => '0');
  signal done4      : std_logic;
  signal class4     : std_logic_vector(1 downto 0);
  signal start1     : std_logic := '0';
  signal logits1    : std_logic_vector(BITS_c - 1 downto 0) := (others => '0');
  signal done1      : std_logic;
  signal class1     : std_logic_vector(0 downto 0);
  -- two and three logits: the fewest the line of logits waiting to be compared holds
  signal start_n    : std_logic := '0';
  signal logits2    : std_logic_vector(2 * BITS_c - 1 downto 0) := (others => '0');
  signal logits3    : std_logic_vector(3 * BITS_c - 1 downto 0) := (others => '0');
  signal done2      : std_logic;
  signal class2     : std_logic_vector(0 downto 0);
  signal done3      : std_logic;
  signal class3     : std_logic_vector(1 downto 0);

  function pack(values : int_array_t) return std_logic_vector is
    variable result : std_logic_vector(values'length * BITS_c - 1 downto 0);
  begin
    for j in 0 to values'length - 1 loop
      result((j + 1) * BITS_c - 1 downto j * BITS_c) :=
        std_logic_vector(to_signed(values(values'low + j), BITS_c));
    end loop;
    return result;
  end function pack;
begin
  test_runner_watchdog(runner, 100 us);
  clk <= not clk after CLK_PERIOD_c / 2 when not stop_clock;

  dut4 : entity work.argmax
    generic map (N => 4, ACC_BITS => BITS_c, CLASS_BITS => 2)
    port map (clk => clk, rst => '0', start => start4, logits => logits4, done => done4, class_out => class4);
  dut1 : entity work.argmax
    generic map (N => 1, ACC_BITS => BITS_c, CLASS_BITS => 1)
    port map (clk => clk, rst => '0', start => start1, logits => logits1, done => done1, class_out => class1);
  dut2 : entity work.argmax
    generic map (N => 2, ACC_BITS => BITS_c, CLASS_BITS => 1)
    port map (clk => clk, rst => '0', start => start_n, logits => logits2, done => done2, class_out => class2);
  dut3 : entity work.argmax
    generic map (N => 3, ACC_BITS => BITS_c, CLASS_BITS => 2)
    port map (clk => clk, rst => '0', start => start_n, logits => logits3, done => done3, class_out => class3);

  p_main : process
    -- the logits are valid with start only (they are changed right after it); done must
    -- pulse exactly 5 clocks after start (the copy, then one logit compared per clock), once
    procedure check4_raw(logits : std_logic_vector; expected : natural; what : string) is
    begin
      logits4 <= logits;
      start4  <= '1';
      wait until rising_edge(clk);
      start4  <= '0';
      logits4 <= (others => '1');
      for k in 1 to 4 loop
        wait until rising_edge(clk);
        check_equal(done4, '0', what & ": done " & integer'image(k) & " clocks after start");
      end loop;
      wait until rising_edge(clk);
      check_equal(done4, '1', what & ": done 5 clocks after start");
      check_equal(to_integer(unsigned(class4)), expected, what);
      wait until rising_edge(clk);
      check_equal(done4, '0', what & ": done pulses once");
    end procedure check4_raw;

    procedure check4(values : int_array_t; expected : natural; what : string) is
    begin
      check4_raw(pack(values), expected, what);
    end procedure check4;

    -- two logits (a, b) and three (a, b, c) at once: done 3 and 4 clocks after start,
    -- with the class
    procedure check23(a, b, c : integer; expected2, expected3 : natural; what : string) is
    begin
      logits2 <= pack((a, b));
      logits3 <= pack((a, b, c));
      start_n <= '1';
      wait until rising_edge(clk);
      start_n <= '0';
      logits2 <= (others => '1');
      logits3 <= (others => '1');
      for k in 1 to 2 loop
        wait until rising_edge(clk);
        check_equal(done2, '0', what & ": 2 logits, done " & integer'image(k) & " clocks after start");
        check_equal(done3, '0', what & ": 3 logits, done " & integer'image(k) & " clocks after start");
      end loop;
      wait until rising_edge(clk);
      check_equal(done2, '1', what & ": 2 logits, done 3 clocks after start");
      check_equal(to_integer(unsigned(class2)), expected2, what & ": 2 logits");
      check_equal(done3, '0', what & ": 3 logits, done 3 clocks after start");
      wait until rising_edge(clk);
      check_equal(done2, '0', what & ": 2 logits, done pulses once");
      check_equal(done3, '1', what & ": 3 logits, done 4 clocks after start");
      check_equal(to_integer(unsigned(class3)), expected3, what & ": 3 logits");
      wait until rising_edge(clk);
      check_equal(done3, '0', what & ": 3 logits, done pulses once");
    end procedure check23;

    procedure check1(value : integer; expected : natural; what : string) is
    begin
      logits1 <= pack((0 => value));
      start1  <= '1';
      wait until rising_edge(clk);
      start1  <= '0';
      wait until rising_edge(clk);
      check_equal(done1, '1', what & ": done one clock after start");
      check_equal(to_integer(unsigned(class1)), expected, what);
    end procedure check1;

    -- the class by the definition, for the exhaustive test: the first index of the maximum
    function first_max(values : int_array_t) return natural is
      variable best : natural := 0;
    begin
      for j in 1 to values'length - 1 loop
        if values(j) > values(best) then
          best := j;
        end if;
      end loop;
      return best;
    end function first_max;

    constant SOME_c : int_array_t(0 to 4) := (-2048, -1, 0, 1, 2047);
    variable values : int_array_t(0 to 3);
    variable three  : int_array_t(0 to 2);
  begin
    test_runner_setup(runner, runner_cfg);
    while test_suite loop
      if run("test_largest_wins") then
        check4((1, 5, 3, 2), 1, "largest in the middle");
        check4((-1, 5, 3, 2), 1, "a negative logit is below every positive one");
        check4((-7, -3, -9, -4), 1, "all negative");
        check4((-2048, -2048, -2048, 2047), 3, "extremes, last");
        check4((2047, -2048, 0, 2046), 0, "extremes, first");
      elsif run("test_ties_go_to_the_lowest_index") then
        check4((4, 9, 9, 1), 1, "tie between 1 and 2");
        check4((0, 0, 0, 0), 0, "all equal");
        check4((-5, 3, -5, 3), 1, "tie between 1 and 3");
        check4((-2048, -2048, -2048, -2048), 0, "all at the minimum");
      elsif run("test_every_arrangement_of_five_values") then
        -- 5 ** 4 = 625 rows: every order of ties, rises and falls among four logits
        for a in SOME_c'range loop
          for b in SOME_c'range loop
            for c in SOME_c'range loop
              for d in SOME_c'range loop
                values := (SOME_c(a), SOME_c(b), SOME_c(c), SOME_c(d));
                check4(values, first_max(values), "logits " & integer'image(values(0)) & " "
                       & integer'image(values(1)) & " " & integer'image(values(2)) & " "
                       & integer'image(values(3)));
              end loop;
            end loop;
          end loop;
        end loop;
      elsif run("test_logits_beyond_32_bits") then
        -- logits that differ only above bit 31 (logit 3 in the high bits, logit 0 in the low)
        check4_raw(x"0100000001" & x"8000000000" & x"00FFFFFFFF" & x"0100000000", 3,
                   "2^32 + 1 beats 2^32, 2^32 - 1 and -2^39");
        check4_raw(x"FF00000000" & x"FF00000000" & x"FEFFFFFFFF" & x"FF00000000", 0,
                   "-2^32 three times and -2^32 - 1: a tie, the lowest index");
        check4_raw(x"7FFFFFFFFF" & x"8000000000" & x"0000000000" & x"7FFFFFFFFE", 3,
                   "the largest 40-bit logit, last");
        check4_raw(x"FFFFFFFFFB" & x"0000000001" & x"8000000000" & x"0100000000", 0,
                   "2^32 first: logit 2 is larger in the low 32 bits only");
      elsif run("test_two_and_three_logits") then
        check23(1, 5, 3, 1, 1, "largest second");
        check23(5, 1, 7, 0, 2, "largest first of two, last of three");
        check23(-4, -4, -4, 0, 0, "all equal");
        -- every arrangement of five values among three logits (125 rows)
        for a in SOME_c'range loop
          for b in SOME_c'range loop
            for c in SOME_c'range loop
              three := (SOME_c(a), SOME_c(b), SOME_c(c));
              check23(three(0), three(1), three(2), first_max(three(0 to 1)), first_max(three),
                      "logits " & integer'image(three(0)) & " " & integer'image(three(1)) & " "
                      & integer'image(three(2)));
            end loop;
          end loop;
        end loop;
      elsif run("test_single_output_is_logit_above_zero") then
        check1(1, 1, "logit 1");
        check1(0, 0, "logit 0");
        check1(-1, 0, "logit -1");
        check1(2047, 1, "logit max");
        check1(-2048, 0, "logit min");
      end if;
    end loop;
    stop_clock <= true;
    test_runner_cleanup(runner);
  end process p_main;
end architecture tb;
