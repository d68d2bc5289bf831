-- tb_neuron_mac: the multiply-accumulate of one neuron (lab 1's exercise), checked with
-- expected values worked out by hand from acc <= bias, then acc <= acc + w * x.
library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;

library vunit_lib;
context vunit_lib.vunit_context;

entity tb_neuron_mac is
  generic (runner_cfg : string);
end entity tb_neuron_mac;

architecture tb of tb_neuron_mac is
  constant CLK_PERIOD_c : time := 10 ns;
  constant ACC_BITS_c   : positive := 32;
  signal clk        : std_logic := '0';
  signal stop_clock : boolean := false;
  signal load       : std_logic := '0';
  signal bias       : std_logic_vector(ACC_BITS_c - 1 downto 0) := (others => '0');
  signal en         : std_logic := '0';
  signal x          : std_logic_vector(7 downto 0) := (others => '0');
  signal w          : std_logic_vector(7 downto 0) := (others => '0');
  signal acc        : std_logic_vector(ACC_BITS_c - 1 downto 0);
begin
  test_runner_watchdog(runner, 100 us);
  clk <= not clk after CLK_PERIOD_c / 2 when not stop_clock;

  dut : entity work.neuron_mac
    generic map (X_BITS => 8, W_BITS => 8, ACC_BITS => ACC_BITS_c)
    port map (clk => clk, load => load, bias => bias, en => en, x => x, w => w, acc => acc);

  p_main : process
    procedure do_load(value : integer) is
    begin
      bias <= std_logic_vector(to_signed(value, ACC_BITS_c));
      load <= '1';
      wait until rising_edge(clk);
      load <= '0';
    end procedure do_load;

    procedure do_mac(pixel : natural; weight : integer) is
    begin
      x  <= std_logic_vector(to_unsigned(pixel, 8));
      w  <= std_logic_vector(to_signed(weight, 8));
      en <= '1';
      wait until rising_edge(clk);
      en <= '0';
    end procedure do_mac;

    procedure expect(value : integer; what : string) is
    begin
      wait for 1 ns;  -- acc is registered: read it just after the edge
      check_equal(to_integer(signed(acc)), value, what);
    end procedure expect;
  begin
    test_runner_setup(runner, runner_cfg);
    while test_suite loop
      if run("test_load_sets_the_bias") then
        do_load(1234);
        expect(1234, "after load with bias 1234");
        do_load(-77);
        expect(-77, "after load with bias -77");

      elsif run("test_one_product_per_enabled_clock") then
        do_load(10);
        do_mac(3, 5);
        expect(25, "10 + 5 * 3");
        do_mac(100, 100);              -- pixels below 128 here: the sign is tested below
        expect(10025, "25 + 100 * 100");

      elsif run("test_negative_weights") then
        do_load(0);
        do_mac(2, -1);                 -- x"FF" is -1, not 255
        expect(-2, "0 + (-1) * 2");
        do_mac(100, -128);             -- x"80" is -128
        expect(-12802, "-2 + (-128) * 100");

      elsif run("test_pixels_are_unsigned") then
        do_load(0);
        do_mac(255, 1);                -- x"FF" as a pixel is 255, not -1
        expect(255, "0 + 1 * 255");
        do_mac(128, 2);
        expect(511, "255 + 2 * 128");

      elsif run("test_holds_without_enable") then
        do_load(5);
        do_mac(4, 4);
        x <= std_logic_vector(to_unsigned(9, 8));
        w <= std_logic_vector(to_signed(9, 8));
        for k in 1 to 3 loop
          wait until rising_edge(clk);  -- en = '0': nothing may change
        end loop;
        expect(21, "5 + 4 * 4, then three clocks without en");

      elsif run("test_full_image_extremes") then
        do_load(0);
        for i in 1 to 784 loop
          do_mac(255, -128);
        end loop;
        expect(-25589760, "784 x (-128) x 255");  -- a 26-bit result: no overflow
      end if;
    end loop;
    stop_clock <= true;
    test_runner_cleanup(runner);
  end process p_main;
end architecture tb;
