-- input_buffer: simple dual-port RAM holding one input image (one word per address: one
-- input code, or the codes a first layer with SIMD takes in one clock).
--
-- Write port: wr_en, wr_addr, wr_data (one word per clock). Read port: rd_en, rd_addr;
-- rd_data is valid two clocks after rd_en: the RAM's read register, then its output
-- register (like a Block Memory Generator with its Primitives Output Register on, the
-- default). The output register is there for speed: a block RAM's data leaves it late in
-- the clock (5.8 ns on ECP5-6), and the first layer fans the input out to all its
-- multipliers; with nothing but a register beside the RAM, that fan-out gets a clock of
-- its own (docs/timing.md). Vivado puts the register into the RAMB's own (DOB_REG).
-- Maps to block RAM or LUT RAM. A read and a write of the same address in one clock is
-- never done (the image is written before start, or into the half not being read), so
-- the ECP5 flow lets synthesis leave such a collision's result undefined (implement.py).
-- READ_LATENCY 3: rd_en and rd_addr go through a register beside the RAM first (rd_data
-- three clocks after rd_en): the first layer's address counter then drives one register
-- here, not the RAM's address pins across the chip (layers in flight, docs/timing.md).
-- VHDL-93: analyses with ghdl --std=93c and --std=08.
library ieee;
use ieee.std_logic_1164.all;

library work;
use work.bram_mlp_pkg.all;

entity input_buffer is
  generic (
    DEPTH     : positive := 784;  -- words
    ADDR_BITS : positive := 10;
    DATA_BITS : positive := 8;
    READ_LATENCY : positive range 2 to 3 := 2  -- 3: rd_en and rd_addr registered first
  );
  port (
    clk     : in  std_logic;
    wr_en   : in  std_logic;
    wr_addr : in  std_logic_vector(ADDR_BITS - 1 downto 0);
    wr_data : in  std_logic_vector(DATA_BITS - 1 downto 0);
    rd_en   : in  std_logic;
    rd_addr : in  std_logic_vector(ADDR_BITS - 1 downto 0);
    rd_data : out std_logic_vector(DATA_BITS - 1 downto 0)
  );
end entity input_buffer;

architecture rtl of input_buffer is
  -- downto: GHDL's netlist then addresses word a at a, not at 2^n - 1 - a (an inverter on
  -- every address bit in front of the block RAM)
  type ram_t is array (2 ** ADDR_BITS - 1 downto 0) of std_logic_vector(DATA_BITS - 1 downto 0);
  signal ram : ram_t := (others => (others => '0'));
  signal q   : std_logic_vector(DATA_BITS - 1 downto 0) := (others => '0');
  signal en_i   : std_logic;  -- the read enable and address the RAM sees
  signal addr_i : std_logic_vector(ADDR_BITS - 1 downto 0);
begin

  assert 2 ** ADDR_BITS >= DEPTH
    report "input_buffer: ADDR_BITS too small for DEPTH"
    severity failure;

  p_write : process (clk)
  begin
    if rising_edge(clk) then
      if wr_en = '1' then
        ram(slv_to_int(wr_addr, false)) <= wr_data;
      end if;
    end if;
  end process p_write;

  g_direct : if READ_LATENCY = 2 generate
    en_i   <= rd_en;
    addr_i <= rd_addr;
  end generate g_direct;

  g_addr_reg : if READ_LATENCY = 3 generate
    signal en_r   : std_logic := '0';
    signal addr_r : std_logic_vector(ADDR_BITS - 1 downto 0) := (others => '0');
  begin
    p_addr : process (clk)
    begin
      if rising_edge(clk) then
        en_r   <= rd_en;
        addr_r <= rd_addr;
      end if;
    end process p_addr;
    en_i   <= en_r;
    addr_i <= addr_r;
  end generate g_addr_reg;

  p_read : process (clk)
  begin
    if rising_edge(clk) then
      if en_i = '1' then
        q <= ram(slv_to_int(addr_i, false));   -- the RAM's read register
      end if;
      rd_data <= q;                            -- its output register
    end if;
  end process p_read;

end architecture rtl;
