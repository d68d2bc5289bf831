-- tb_lab1: lab 1 wired as in the block design: the generated weights memory
-- lab1_l0_weights (clk / addr / dout), a test-input memory, an address counter and the
-- student's neuron_mac. For every test image the counter sweeps addr 0 .. 783; both
-- memories answer one clock later; the neuron accumulates; at the end acc must equal the
-- logit of the Python integer reference model (EXPECTED_FILE, column 0) and its sign the
-- "is it a 0?" answer (column 1).
-- Signals worth a look in the waveform: addr (the address counter), w_data (the weights
-- bus), x_data (the pixel), acc (the accumulator of neuron 0), done.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

library vunit_lib;
context vunit_lib.vunit_context;
use vunit_lib.integer_array_pkg.all;

library work;
use work.lab1_l0_pkg.all;

entity tb_lab1 is
  generic (
    runner_cfg    : string;
    INPUTS_FILE   : string;
    EXPECTED_FILE : string;
    N_IMAGES      : positive := 5
  );
end entity tb_lab1;

architecture tb of tb_lab1 is
  constant CLK_PERIOD_c : time := 10 ns;
  signal clk        : std_logic := '0';
  signal stop_clock : boolean := false;
  signal addr       : std_logic_vector(ADDR_BITS_c - 1 downto 0) := (others => '0');
  signal addr_valid : std_logic := '0';  -- addr holds an input to read this clock
  signal w_data     : std_logic_vector(N_NEURONS_c * WEIGHT_BITS_c - 1 downto 0);
  signal x_data     : std_logic_vector(IN_BITS_c - 1 downto 0) := (others => '0');
  signal en         : std_logic := '0';  -- w_data and x_data belong to the same input
  signal load       : std_logic := '0';
  signal bias       : std_logic_vector(ACC_BITS_c - 1 downto 0);
  signal acc        : std_logic_vector(ACC_BITS_c - 1 downto 0);
  signal done       : std_logic := '0';
  signal image      : natural := 0;
  signal inputs     : integer_array_t := null_integer_array;
begin
  test_runner_watchdog(runner, 10 ms);
  clk <= not clk after CLK_PERIOD_c / 2 when not stop_clock;

  bias <= std_logic_vector(to_signed(BIAS_c(0), ACC_BITS_c));

  i_weights : entity work.lab1_l0_weights
    port map (clk => clk, addr => addr, dout => w_data);

  -- the test-input memory: one pixel per address, read latency 1 (like a block RAM)
  p_input_memory : process (clk)
  begin
    if rising_edge(clk) then
      if addr_valid = '1' then
        x_data <= std_logic_vector(to_unsigned(get(inputs, to_integer(unsigned(addr)), image), IN_BITS_c));
      end if;
      en <= addr_valid;
    end if;
  end process p_input_memory;

  dut : entity work.neuron_mac
    generic map (X_BITS => IN_BITS_c, W_BITS => WEIGHT_BITS_c, ACC_BITS => ACC_BITS_c)
    port map (clk => clk, load => load, bias => bias, en => en, x => x_data,
              w => w_data(WEIGHT_BITS_c - 1 downto 0), acc => acc);

  p_main : process
    variable expected : integer_array_t;
    variable logit    : integer;
  begin
    test_runner_setup(runner, runner_cfg);
    inputs   <= load_csv(INPUTS_FILE);
    expected := load_csv(EXPECTED_FILE);
    while test_suite loop
      if run("test_image_logits") then
        for k in 0 to N_IMAGES - 1 loop
          image <= k;
          load  <= '1';                        -- acc <= bias
          wait until rising_edge(clk);
          load  <= '0';
          for i in 0 to N_INPUTS_c - 1 loop    -- the address counter
            addr       <= std_logic_vector(to_unsigned(i, ADDR_BITS_c));
            addr_valid <= '1';
            wait until rising_edge(clk);
          end loop;
          -- the memories answered each address at the edge that ended its loop turn,
          -- so the neuron adds the last product at the next edge
          addr_valid <= '0';
          wait until rising_edge(clk);
          done <= '1';
          wait for 1 ns;
          logit := to_integer(signed(acc));
          check_equal(logit, get(expected, 0, k), "image " & integer'image(k) & ": logit");
          check_equal(logit > 0, get(expected, 1, k) = 1,
                      "image " & integer'image(k) & ": is it a 0? (logit > 0)");
          wait until rising_edge(clk);
          done <= '0';
        end loop;
        info("checked " & integer'image(N_IMAGES) & " images");
      end if;
    end loop;
    stop_clock <= true;
    test_runner_cleanup(runner);
  end process p_main;
end architecture tb;
