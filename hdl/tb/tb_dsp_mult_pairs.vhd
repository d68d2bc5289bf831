-- tb_dsp_mult_pairs: two products per DSP block (hdl/dsp_mult_pairs.vhd) equal the plain
-- products a(k) * b, three enabled clocks later, for every 8-bit weight against every 8-bit
-- input (the extremes -128 and 127 against 0 and 255 among them) with the partner lane
-- swept through all its values too, an odd lane count (the last block multiplies one
-- weight), 4-bit weights by 12-bit inputs, and with the clock enable low now and then
-- (everything holds). The expected values are a(k) * b, computed here.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

library vunit_lib;
context vunit_lib.vunit_context;

library work;
use work.bram_mlp_pkg.all;

entity tb_dsp_mult_pairs is
  generic (runner_cfg : string);
end entity tb_dsp_mult_pairs;

architecture tb of tb_dsp_mult_pairs is
  constant CLK_PERIOD_c : time := 10 ns;
  constant LATENCY_c    : positive := 3;
  constant N8_c         : positive := 5;  -- odd: two pairs and a single
  constant N4_c         : positive := 4;
  constant CLOCKS_c     : positive := 65536;

  signal clk        : std_logic := '0';
  signal stop_clock : boolean := false;
  signal en         : std_logic := '0';
  signal a8, p8     : int_vector_t(0 to N8_c - 1) := (others => 0);
  signal b8         : natural := 0;
  signal a4, p4     : int_vector_t(0 to N4_c - 1) := (others => 0);
  signal b4         : natural := 0;

  -- the value of t mod 2^bits as a two's complement number of that many bits
  function wrap(t : natural; bits : positive) return integer is
  begin
    return to_integer(to_signed(t mod 2 ** bits - 2 ** (bits - 1), bits));
  end function wrap;
begin
  test_runner_watchdog(runner, 5 ms);
  clk <= not clk after CLK_PERIOD_c / 2 when not stop_clock;

  dut8 : entity work.dsp_mult_pairs
    generic map (N => N8_c, A_BITS => 8, B_BITS => 8)
    port map (clk => clk, en => en, a => a8, b => b8, p => p8);
  dut4 : entity work.dsp_mult_pairs
    generic map (N => N4_c, A_BITS => 4, B_BITS => 12)
    port map (clk => clk, en => en, a => a4, b => b4, p => p4);

  p_main : process
    type history_t is array (0 to LATENCY_c - 1) of int_vector_t(0 to N8_c + N4_c - 1);
    variable want  : history_t := (others => (others => 0));  -- expected, by enabled clock
    variable t     : natural := 0;  -- stimulus index
    variable clock : natural := 0;
    variable fill  : natural := 0;  -- enabled clocks so far (the pipeline fills in 3)
    variable errors : natural := 0;
  begin
    test_runner_setup(runner, runner_cfg);
    while test_suite loop
      if run("test_every_weight_against_every_input") then
        while t < CLOCKS_c loop
          -- the clock enable is low one clock in seven: nothing may move
          if clock mod 7 = 6 then
            en <= '0';
          else
            en <= '1';
            -- lane 0: every weight against every input; lane 1 (its partner): every weight
            -- too, in another order; lanes 2, 3: the extremes; lane 4 (single): lane 0 negated
            b8    <= t mod 256;
            a8(0) <= wrap(t / 256, 8);
            a8(1) <= wrap(t * 7 + t / 256, 8);
            a8(2) <= -128 + 255 * ((t / 3) mod 2);
            a8(3) <= 127 - 255 * ((t / 5) mod 2);
            a8(4) <= -1 - wrap(t / 256, 8);
            b4    <= t mod 4096;
            a4(0) <= wrap(t / 4096, 4);
            a4(1) <= wrap(t / 256, 4);
            a4(2) <= -8 + 15 * ((t / 3) mod 2);
            a4(3) <= wrap(t * 3, 4);
          end if;
          wait until rising_edge(clk);
          wait for 1 ns;
          if en = '1' then  -- this edge took the inputs: the expected products move on
            want(1 to LATENCY_c - 1) := want(0 to LATENCY_c - 2);
            for k in 0 to N8_c - 1 loop
              want(0)(k) := a8(k) * b8;
            end loop;
            for k in 0 to N4_c - 1 loop
              want(0)(N8_c + k) := a4(k) * b4;
            end loop;
            fill := fill + 1;
            t := t + 1;
          end if;
          -- the outputs show the products of the inputs LATENCY_c enabled edges back (held
          -- while en = '0')
          if fill >= LATENCY_c then
            for k in 0 to N8_c - 1 loop
              if p8(k) /= want(LATENCY_c - 1)(k) then
                errors := errors + 1;
                check_equal(p8(k), want(LATENCY_c - 1)(k), "8 x 8 bits, lane " & integer'image(k));
              end if;
            end loop;
            for k in 0 to N4_c - 1 loop
              if p4(k) /= want(LATENCY_c - 1)(N8_c + k) then
                errors := errors + 1;
                check_equal(p4(k), want(LATENCY_c - 1)(N8_c + k), "4 x 12 bits, lane " & integer'image(k));
              end if;
            end loop;
          end if;
          clock := clock + 1;
        end loop;
        check_equal(errors, 0, "products that differ");
        info("checked " & integer'image(t) & " inputs per lane");
      end if;
    end loop;
    stop_clock <= true;
    test_runner_cleanup(runner);
  end process p_main;
end architecture tb;
