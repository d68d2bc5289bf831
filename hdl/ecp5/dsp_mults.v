// dsp_mults for ECP5 parts: the entity of hdl/dsp_mults.vhd (p(k) = a(k) * b, three
// enabled clocks later) built from N MULT18X18D blocks with their own input, pipeline and
// output registers.
//
// Used only by implement.py (place and route with Yosys synth_ecp5 + nextpnr-ecp5): there
// the VHDL dsp_mults is left out of GHDL's synthesis (a black box) and this module takes its
// place. Yosys' synth_ecp5 maps a multiplier to a MULT18X18D but moves no register into it
// (it does so only for Nexus parts), which leaves a register -> multiplier -> register path
// in the fabric at about 120 MHz; with the block's own registers the paths into and out of
// the block are plain wires. Simulation, Vivado and the resource estimate use the VHDL.
// Ports as GHDL writes the VHDL entity: an int_vector_t(0 to N - 1) is N 32-bit integers,
// element 0 in the top bits; a natural is 31 bits. a(k) two's complement, b unsigned.
// The MULT18X18D pins and parameters: Lattice FPGA-TN-02205 (ECP5 sysDSP usage guide) and
// Yosys' share/lattice/cells_bb_ecp5.v; tests/test_netlist.py simulates this module with
// a model of the block.
module dsp_mults #(
  parameter N = 1,        // multipliers
  parameter A_BITS = 8,   // at most 18
  parameter B_BITS = 8    // at most 17; A_BITS + B_BITS at most 32
) (
  input  clk,
  input  en,              // clock enable of every register
  input  [32 * N - 1:0] a,
  input  [30:0] b,
  output [32 * N - 1:0] p
);
  genvar k;
  generate
    for (k = 0; k < N; k = k + 1) begin : lane
      // a(k) sign-extended to the block's 18 bits; b zero-extended (non-negative)
      wire signed [17:0] a18 = $signed(a[32 * (N - 1 - k) +: A_BITS]);
      wire        [17:0] b18 = b[B_BITS - 1:0];
      wire        [35:0] p36;
      // a * b has at most A_BITS + B_BITS <= 32 bits: its low 32 are the integer
      assign p[32 * (N - 1 - k) +: 32] = p36[31:0];

      MULT18X18D #(
        .REG_INPUTA_CLK("CLK0"),    // input registers
        .REG_INPUTB_CLK("CLK0"),
        .REG_PIPELINE_CLK("CLK0"),  // pipeline register
        .REG_OUTPUT_CLK("CLK0"),    // output register
        .REG_INPUTC_CLK("NONE"),
        .GSR("DISABLED"),
        .RESETMODE("SYNC")
      ) mult (
      .A0(a18[0]),
      .A1(a18[1]),
      .A2(a18[2]),
      .A3(a18[3]),
      .A4(a18[4]),
      .A5(a18[5]),
      .A6(a18[6]),
      .A7(a18[7]),
      .A8(a18[8]),
      .A9(a18[9]),
      .A10(a18[10]),
      .A11(a18[11]),
      .A12(a18[12]),
      .A13(a18[13]),
      .A14(a18[14]),
      .A15(a18[15]),
      .A16(a18[16]),
      .A17(a18[17]),
      .B0(b18[0]),
      .B1(b18[1]),
      .B2(b18[2]),
      .B3(b18[3]),
      .B4(b18[4]),
      .B5(b18[5]),
      .B6(b18[6]),
      .B7(b18[7]),
      .B8(b18[8]),
      .B9(b18[9]),
      .B10(b18[10]),
      .B11(b18[11]),
      .B12(b18[12]),
      .B13(b18[13]),
      .B14(b18[14]),
      .B15(b18[15]),
      .B16(b18[16]),
      .B17(b18[17]),
      .SIGNEDA(1'b1), .SIGNEDB(1'b1),
      .CLK0(clk), .CE0(en), .RST0(1'b0),   // the other pins unconnected: unused
      .P0(p36[0]),
      .P1(p36[1]),
      .P2(p36[2]),
      .P3(p36[3]),
      .P4(p36[4]),
      .P5(p36[5]),
      .P6(p36[6]),
      .P7(p36[7]),
      .P8(p36[8]),
      .P9(p36[9]),
      .P10(p36[10]),
      .P11(p36[11]),
      .P12(p36[12]),
      .P13(p36[13]),
      .P14(p36[14]),
      .P15(p36[15]),
      .P16(p36[16]),
      .P17(p36[17]),
      .P18(p36[18]),
      .P19(p36[19]),
      .P20(p36[20]),
      .P21(p36[21]),
      .P22(p36[22]),
      .P23(p36[23]),
      .P24(p36[24]),
      .P25(p36[25]),
      .P26(p36[26]),
      .P27(p36[27]),
      .P28(p36[28]),
      .P29(p36[29]),
      .P30(p36[30]),
      .P31(p36[31]),
      .P32(p36[32]),
      .P33(p36[33]),
      .P34(p36[34]),
      .P35(p36[35])
      );
    end
  endgenerate
endmodule
