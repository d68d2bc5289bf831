"""hardware_plan.py: what the hardware of a design is made of and what it costs, per layer.

One plan is computed per generation (plan_design) from the integer model and the hardware
options, and everything else reads it: the templates lay out what it says (ROM shapes,
which neurons multiply in DSP blocks and which in LUTs, latencies), report.json copies its
figures, estimate.py checks the ROMs it finds against them and the benches quote them.
To change how a layer is laid out in hardware, start here.

Timing of one layer (see templates/layer.vhd.j2): the layer takes one input per clock;
an input arrives x_latency clocks after its address (2 from the input buffer: its block RAM
and the output register beside it; 13 from a hidden layer: a four-step select (the address,
a quad of 4 results, a group of 16, the group), then the requantizer's 9 stages) and goes
through the multiply-accumulate pipeline (5 registers: the memories' output registers, the
multiplier's input, pipeline and output registers, the sum), so a layer of n_in inputs
takes n_in + x_latency + 5 clocks from start to done. The argmax copies the logits, then
compares one logit per clock: N + 1 clocks for N outputs (1 for a single output).

Folding (PE): a layer may have fewer multiply-accumulate lanes than neurons. With PE lanes
it computes its neurons in passes = ceil(n_out / PE) sweeps of its inputs, neuron j in lane
j mod PE during pass j // PE (the lanes of the last pass beyond n_out hold zero weights and
their results are dropped); the passes follow each other without a gap, so the layer takes
passes x n_in + x_latency + 6 clocks. The default is PE = n_out: one pass.
SIMD (the first layer only, for now): the layer takes SIMD inputs per clock, groups =
ceil(n_in / SIMD) per pass (the missing inputs of the last group have zero weights), each
lane multiplies SIMD weights and adds the SIMD products in one more register stage: passes x
groups + x_latency + 7 clocks, pe x simd multipliers. The image is then held and streamed
as words of SIMD codes (one word per input-memory address and per s_axis beat).

Layers in flight (in_flight): each hidden layer hands its results to the next layer as a
copy (the read port reads the copy), so layer k takes the next image while layer k + 1
works on this one; the interval between images is then the slowest layer's clocks (layer
0 may take a new image in the clock of its own done, a later layer two clocks after that:
the layer before sees it ready through a register, and its start pulse is a register too,
so that no path runs from one layer to the next and on in one clock). A hidden layer
starts early (early_start, early_layers) when its sweep (passes x groups) is longer than
the way of its last products to the accumulators and the next layer is ready in time:
it takes the next image the clock after its last input is issued, sweep + 1 clocks after
the last (+ 2 after the first layer), its accumulators starting from the biases at the
first input instead of at start. Unless the last
layer is not longer than the argmax (then it waits for the argmax: its clocks + the
argmax's + 1, + 3 after a hidden layer), and never less than the AXI4-Stream wrapper's
result beats (classes + 1) or its input beats (one word of layer 0's SIMD codes per beat).
The latency of one image: the layers' clocks + one per hidden layer (the registered start)
+ the argmax's. Without layers in flight the core takes one image at a time: latency + 1.

DSP pairs (dsp_pairs, Xilinx parts): two lanes share one DSP48E1, multiplying the packed
weight w(2i + 1) * 2^S + w(2i) by their common input (S = weight bits + input bits, the
width of one product) and splitting the product again (hdl/dsp_mult_pairs.vhd): a layer's
DSP lanes then take half the blocks. Exact when the packed weight fits the DSP48E1's A
port (2 x weight bits + input bits + 1 <= 25) and S <= 16: 8-bit weights and inputs, or
4-bit weights. Only a layer whose multipliers do not all fit the DSP blocks left pairs
(pair_layer).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import quantization_functions as qf
from fpga_parts import PARTS, is_ecp5

FIRST_LAYER_X_LATENCY = 2   # input buffer: its block RAM and output register (hdl/input_buffer.vhd)
REQUANT_LATENCY = 9         # hdl/requantizer.vhd: ReLU, multiply (3), copy the products, add the parts, round, shift, saturate
SELECT_STAGES = 4           # layer.vhd.j2 p_select: the address copies, within quads of 4 neurons, the quads of a group of 16, then the group
HIDDEN_X_LATENCY = SELECT_STAGES + REQUANT_LATENCY  # a hidden layer's activation port
MAC_STAGES = 6              # layer.vhd.j2: weights_r/x_r, the multiplier's 3, the products' register, the sum
START_CLOCKS = 1            # layer.vhd.j2: the first layer takes its start through a register (accept)
HANDOFF_CLOCKS = 1          # layers in flight: the next layer starts a clock after the copy
M_AXIS_BITS = 32            # one result word per m_axis beat: the class, then each logit
M_AXIS_BITS_WIDE = 64       # the same with logits of 33 to 48 bits
# RAMB18E1 shapes (depth, width) for one read port: 16Kx1 .. 1Kx18, and 512x36 for a ROM
# (a ROM reads through both ports' data pins in simple dual-port mode)
RAMB18_SHAPES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))
RAMB36_SHAPES = ((512, 72), (1024, 36), (2048, 18), (4096, 9), (8192, 4), (16384, 2),
                 (32768, 1))
# LUTs of one LUT multiplier, per weight bit x input bit: 101 LUT multipliers of 8 x 8 bits
# cost about 13,400 LUT in the Yosys estimate of 784->256->10 (README, Estimate), 2 per bit
LUTS_PER_LUT_MULT_BIT = 2
# layers in flight: a layer's weights split into ROMs of at most this many RAMB18 (split_pack)
ROM_SPLIT_RAMB18 = 8
# a copy of the ROM address per this many RAMB18 of ROMs (rom_group)
ROM_COPY_RAMB18 = 8


# --------------------------------------------------------------------------- small rules
def x_latency(layer: int, in_flight: bool = False) -> int:
    """Clocks from a layer's input address to its input value (layers in flight: the input
    buffer registers the first layer's read address beside it, a clock more)."""
    if layer == 0:
        return FIRST_LAYER_X_LATENCY + (1 if in_flight else 0)
    return HIDDEN_X_LATENCY


def addr_bits(n: int) -> int:
    """Address bits for n words (at least 1)."""
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


def ramb18_per_rom(depth: int, width: int) -> int:
    """RAMB18-equivalents for one depth x width ROM: RAMB18E1s, or RAMB36E1s (two each)
    where they take fewer (4096 words: a RAMB36 holds 9 bits of a word, two RAMB18 8)."""
    def count(shapes, cost: int) -> int:
        for max_depth, max_width in shapes:
            if depth <= max_depth:
                return cost * math.ceil(width / max_width)
        return cost * math.ceil(depth / shapes[-1][0]) * width
    return min(count(RAMB18_SHAPES, 1), count(RAMB36_SHAPES, 2))


def s_axis_bits(word_bits: int) -> int:
    """s_axis_tdata width: one input word per beat (the codes layer 0 takes in a clock), in
    a width an AXI DMA streams: 8, 16, 32, 64, ... bits (PG021: the stream data width is a
    power of two bytes; three 8-bit codes per beat take 32 bits)."""
    return max(8, 1 << (word_bits - 1).bit_length())


def input_buffer_ramb18(n_in: int, input_bits: int, simd: int) -> int:
    """RAMB18 of the input buffer: one image as words of the first layer's SIMD codes."""
    return ramb18_per_rom(1 << addr_bits(math.ceil(n_in / simd)), input_bits * simd)


def lut_mult_luts(multipliers: int, weight_bits: int, input_bits: int) -> int:
    """LUTs of that many LUT multipliers (LUTS_PER_LUT_MULT_BIT per weight bit x input bit)."""
    return multipliers * LUTS_PER_LUT_MULT_BIT * weight_bits * input_bits


def pairs_fit(weight_bits: int, input_bits: int) -> bool:
    """Two products of weight_bits x input_bits fit one DSP48E1 (hdl/dsp_mult_pairs.vhd):
    the packed weight in its 25-bit A port, the packed product in 32 bits."""
    return 2 * weight_bits + input_bits + 1 <= 25 and weight_bits + input_bits <= 16


def pair_layer(dsp_pairs: bool, q: qf.QuantizedModel, layer: int, pe: int, simd: int,
               blocks_left: int) -> bool:
    """With dsp_pairs, a layer pairs its lanes when the widths allow it and its multipliers
    do not all fit the DSP blocks left one per block (pairing costs a splitting adder per
    pair: no use where the blocks suffice)."""
    return (dsp_pairs and pairs_fit(q.weight_bits, q.layer_input_bits(layer))
            and pe * simd > blocks_left > 0)


def dsp_blocks(dsp_lanes: int, simd: int, pairs: bool) -> int:
    """DSP blocks of a layer's DSP lanes: one per multiplier, or one per two lanes."""
    return (math.ceil(dsp_lanes / 2) if pairs else dsp_lanes) * simd


def dsp_lanes_within(pe: int, simd: int, blocks: int, pairs: bool) -> int:
    """The most of a layer's pe lanes (simd multipliers each) that `blocks` DSP blocks hold."""
    return min(pe, (2 if pairs else 1) * (blocks // simd))


def neurons_per_rom(n_out: int, requested: int | None) -> int:
    """Neurons sharing one ROM word: as requested (at most all), else all of the layer's."""
    return n_out if requested is None else max(1, min(requested, n_out))


def split_pack(lanes_: int, simd: int, weight_bits: int, depth: int) -> int:
    """Layers in flight on an ECP5 part, --neurons-per-rom not given: lanes per ROM,
    the most whose ROM takes at most ROM_SPLIT_RAMB18 block RAMs (all of the layer's when
    they fit), so that a wide layer's weights are several ROMs, each with its own copy of
    the address beside it, instead of one ROM whose address drives a hundred block RAMs
    over the chip (the clock of the ECP5 fold, docs/timing.md). 8-bit weights, 2048 words:
    9 lanes (72 bits: 8 block RAMs of 2048 x 9). It may cost a few block RAMs (the ROMs
    are equally wide: 784->256->10's ECP5 fold 15 x 8 instead of 114 for one ROM), which
    a Xilinx part's smaller members cannot spare: there a layer keeps one ROM."""
    return most_within(depth, simd * weight_bits, lanes_, ROM_SPLIT_RAMB18)


def most_within(depth: int, unit_bits: int, units: int, ramb18: int) -> int:
    """The most of `units` units of unit_bits bits each (at least 1) whose depth-word ROM
    takes at most `ramb18` block RAMs (ramb18_per_rom)."""
    return max([1] + [u for u in range(1, units + 1)
                      if ramb18_per_rom(depth, u * unit_bits) <= ramb18])


def rom_slice(depth: int, width: int, weight_bits: int) -> int:
    """Weights per slice of a ROM word (templates/layer_pkg.vhd.j2 SLICE_c): the layer reads
    a wide ROM as slices side by side, each a memory of its own with its own copy of the
    address beside it (one address driving the 114 block RAMs of 784->256->10's one
    2048-bit ROM crossed the chip: docs/timing.md). The whole word when its ROM takes at
    most ROM_COPY_RAMB18 block RAMs, else the most weights whose slice does (8-bit weights,
    1024 words: 18 weights, 144 bits, 8 block RAMs of 1024 x 18: no block RAM more than
    one ROM takes when the word's bits are a multiple of the block RAM's width)."""
    return most_within(depth, weight_bits, width // weight_bits, ROM_COPY_RAMB18)


def rom_group(depth: int, slice_bits: int) -> int:
    """ROM slices (of slice_bits bits, rom_slice) per copy of the ROM address
    (templates/layer.vhd.j2 ROM_GROUP_c): about ROM_COPY_RAMB18 block RAMs per copy, at
    least one slice."""
    return max(1, ROM_COPY_RAMB18 // ramb18_per_rom(depth, slice_bits))


def wide_acc(acc_bits: int) -> bool:
    """An accumulator wider than a VHDL integer: kept as hi x 2^16 + lo (layer.vhd.j2)."""
    return acc_bits > qf.NARROW_ACC_BITS


def start_clocks(layer: int) -> int:
    """Clocks a layer's start waits before it acts: the first layer takes it through a
    register (START_CLOCKS), the others act on it at once (it comes from a register)."""
    return START_CLOCKS if layer == 0 else 0


def layer_cycles(n_in: int, layer: int, passes: int = 1, simd: int = 1,
                 in_flight: bool = False) -> int:
    """Clocks from a layer's start to its done: the first layer's start register, SIMD
    inputs per clock in each pass, the inputs' read latency, and the multiply-accumulate
    pipeline."""
    return (start_clocks(layer) + passes * math.ceil(n_in / simd)
            + x_latency(layer, in_flight) + MAC_STAGES + simd_stages(simd))


def early_start(in_flight: bool, hidden: bool, wide: bool, sweep: int, x_lat: int,
                simd: int) -> bool:
    """Layers in flight: a hidden layer (accumulators within 32 bits) takes the next image
    as soon as its inputs are issued, while the last products are still on their way, when
    the sweep (passes x groups clocks) is longer than that drain (templates/layer.vhd.j2,
    EARLY_c)."""
    return in_flight and hidden and not wide and sweep > x_lat + MAC_STAGES + simd_stages(simd)


def layer_timing(q: qf.QuantizedModel, layer: int, pe: int, simd: int,
                 in_flight: bool) -> tuple[int, int, bool]:
    """(clocks from start to done, sweep = passes x groups clocks of issued inputs, whether
    it may start early) of layer `layer` folded into pe lanes and simd inputs per clock:
    the one place plan_design and choose_fold take them from."""
    n_out, n_in = q.W[layer].shape
    passes, groups = math.ceil(n_out / pe), math.ceil(n_in / simd)
    sweep = passes * groups
    return (layer_cycles(n_in, layer, passes, simd, in_flight), sweep,
            early_start(in_flight, layer < q.n_layers - 1, wide_acc(q.acc_bits(layer)),
                        sweep, x_latency(layer, in_flight), simd))


def simd_stages(simd: int) -> int:
    """Register stages after the multipliers that add a lane's SIMD products (layer.vhd.j2)."""
    return 0 if simd == 1 else 1


def lanes(n_out: int, asked: int | None) -> int:
    """Multiply-accumulate lanes (PE) of a layer: as asked, at most one per neuron; None:
    one per neuron (no folding)."""
    return n_out if asked is None else max(1, min(asked, n_out))


def per_layer(values: list[int] | None, n_layers: int) -> list[int | None]:
    """--pe P (every layer) or P0,P1,... (one per layer) as one value per layer."""
    if values is None:
        return [None] * n_layers
    if len(values) == 1:
        return values * n_layers
    if len(values) != n_layers:
        raise ValueError(f"{len(values)} values for {n_layers} layers: give one value, or "
                         f"one per layer")
    return list(values)


def argmax_latency(n_classes: int) -> int:
    """Clocks from the argmax's start to its done (hdl/argmax.vhd): the logits copied, then
    one logit per clock; a single output (yes/no) takes one clock."""
    return n_classes + 1 if n_classes > 1 else 1


def early_layers(cycles: list[int], sweeps: list[int], can_early: list[bool],
                 n_classes: int, input_words: int) -> list[bool]:
    """Layers in flight: which layers start early (take the next image once this one's
    inputs are issued; can_early: early_start). Layer k may do so only when the next layer
    is ready by then for this image's results, which are copied at done. The next image
    starts an interval after this one, so over two intervals the next layer must have time
    for this layer's clocks and its own until it is ready again (layer k + 1's ready: at
    its sweep's end + 1 when it starts early itself, at its done otherwise, after the
    argmax when it waits for it), + 2 for each hand-off, and less than two intervals (with
    every stage equal, a chain of early layers came out at layer 0's clocks: the SFC fold
    256,86,86,4 measured 792 where equality predicted 787). Where two intervals are shorter
    the intervals would alternate; that layer then starts at done as before (from the last
    layer back, until every pair has its time)."""
    n = len(cycles)
    early = [bool(e) for e in can_early[:-1]] + [False]  # the last layer never starts early
    while True:
        interval = flight_interval(cycles, n_classes, input_words, sweeps, early)
        for k in range(n - 2, -1, -1):
            if not early[k]:
                continue
            handoff = HANDOFF_CLOCKS + 1 if k > 0 else 0
            if early[k + 1]:
                next_ready = sweeps[k + 1] + 1
            elif k + 1 == n - 1 and cycles[-1] <= argmax_latency(n_classes):
                next_ready = cycles[-1] + argmax_latency(n_classes) + 1
            else:
                next_ready = cycles[k + 1]
            if cycles[k] + handoff + next_ready + HANDOFF_CLOCKS + 1 >= 2 * interval:
                early[k] = False
                break
        else:
            return early


def flight_interval(cycles: list[int], n_classes: int, input_words: int,
                    sweeps: list[int] | None = None, early: list[bool] | None = None) -> int:
    """Clocks between images with layers in flight, through the AXI4-Stream wrapper (see
    the module's docstring): the slowest stage (a layer's clocks, or with an early start
    its sweep + 1, + the first layer's start register; a layer after the first: + 2, it is
    seen ready through a register and its start pulse is a register), the argmax's wait
    when the last layer is not longer than it, the result's beats out, the image's words
    in."""
    early = early or [False] * len(cycles)
    stage = max((start_clocks(l) + sweeps[l] + 1 if early[l] else c)
                + (HANDOFF_CLOCKS + 1 if l > 0 else 0)
                for l, c in enumerate(cycles))
    if cycles[-1] <= argmax_latency(n_classes):
        extra = 1 if len(cycles) == 1 else HANDOFF_CLOCKS + 2
        stage = max(stage, cycles[-1] + argmax_latency(n_classes) + extra)
    return max(stage, n_classes + 1, input_words)


def requant_multipliers(hidden: bool, wide: bool) -> int:
    """DSP multipliers of a layer's requantizer: one per 16-bit part of max(acc, 0)
    (hdl/requantizer.vhd: 2 parts of a 32-bit accumulator, requantizer_wide: 3)."""
    return (3 if wide else 2) if hidden else 0


def m_axis_bits(q: qf.QuantizedModel) -> int:
    """m_axis_tdata width: 32 bits, 64 when the logits are wider than 32."""
    return M_AXIS_BITS_WIDE if wide_acc(q.acc_bits(q.n_layers - 1)) else M_AXIS_BITS


# --------------------------------------------------------------------------- the plan
@dataclass
class LayerPlan:
    """How one layer is built and what it costs."""
    layer: int
    n_in: int
    n_out: int
    hidden: bool
    input_bits: int          # width of the layer's input codes
    acc_bits: int            # accumulator width (from the actual integers)
    acc_min: int
    acc_max: int
    wide: bool               # accumulator kept as hi x 2^16 + lo
    x_latency: int           # clocks from input address to input value
    cycles: int              # clocks from start to done
    pe: int                  # multiply-accumulate lanes (n_out: one per neuron)
    simd: int                # inputs per clock (1: one)
    groups: int              # clocks per pass: ceil(n_in / simd)
    passes: int              # sweeps of the inputs: ceil(n_out / pe)
    addr_bits: int           # the input address bus
    w_addr_bits: int         # the weights ROMs' address bus: pass x groups + group
    pack: int                # lanes per ROM word (each with simd weights)
    n_roms: int              # weights ROMs
    rom_depth: int           # words per ROM (a power of two)
    rom_width: int           # bits per word: pack x weight_bits
    rom_slice: int           # weights per slice of a word, each slice its own memory (rom_slice)
    ramb18: int              # RAMB18-equivalents of all its ROMs
    dsp_lanes: int           # lanes 0 .. dsp_lanes-1 multiply in DSP blocks
    dsp_macs: int            # their multipliers: dsp_lanes x simd
    dsp_pairs: bool          # two lanes per DSP block (hdl/dsp_mult_pairs.vhd)
    dsp_blocks: int          # the DSP blocks of those multipliers
    lut_macs: int            # the other lanes' multipliers, in LUTs
    requant_multipliers: int  # a hidden layer's requantizer: 2 DSP multipliers (3 if wide), else 0
    early: bool = False      # layers in flight: takes the next image once its inputs are issued

    @property
    def used_words(self) -> int:
        return self.passes * self.groups

    @property
    def n_slices(self) -> int:
        """Slices per ROM word (the last one may hold fewer weights)."""
        return math.ceil(self.pack * self.simd / self.rom_slice)

    @property
    def folded(self) -> bool:
        return self.passes > 1


@dataclass
class DesignPlan:
    """The whole design: its layers and the totals the report and the warnings give."""
    layers: list[LayerPlan]
    part: str
    dsp_budget: int
    neurons_per_rom: int | None          # as asked (None: all of a layer's)
    pe: list[int | None]                 # lanes per layer as asked (None: one per neuron)
    in_flight: bool                      # layers work on consecutive images at once
    input_bits: int
    weight_bits: int
    latency_cycles: int                  # start to done, argmax included
    ideal_cycles: int                    # one input per clock per layer
    input_buffer_depth: int
    s_axis_bits: int
    m_axis_bits: int
    class_bits: int
    capacity: dict = field(default_factory=dict)
    fold: dict | None = None             # --fold auto / --target-fps: what was chosen, why

    @property
    def roms(self) -> int:
        return sum(x.n_roms for x in self.layers)

    @property
    def ramb18(self) -> int:
        """The weights ROMs' RAMB18s (the input buffer comes on top)."""
        return sum(x.ramb18 for x in self.layers)

    @property
    def multipliers(self) -> int:
        return sum(x.pe * x.simd + x.requant_multipliers for x in self.layers)

    @property
    def dsp_macs(self) -> int:
        return sum(x.dsp_macs for x in self.layers)

    @property
    def dsp_blocks(self) -> int:
        """DSP blocks of the multiply-accumulates (the requantizers' apart)."""
        return sum(x.dsp_blocks for x in self.layers)

    @property
    def lut_macs(self) -> int:
        return sum(x.lut_macs for x in self.layers)

    @property
    def input_word_bits(self) -> int:
        """An input memory word, an s_axis beat: the codes layer 0 takes in one clock."""
        return self.input_bits * self.layers[0].simd

    @property
    def input_words(self) -> int:
        """Words of one image: ceil(inputs / layer 0's SIMD)."""
        return self.layers[0].groups

    @property
    def wide_logits(self) -> bool:
        return self.layers[-1].wide

    @property
    def any_wide(self) -> bool:
        return any(x.wide for x in self.layers)

    @property
    def axis_period_cycles(self) -> int:
        """Clocks between results through the AXI4-Stream wrapper, images back to back and
        no backpressure: the core takes the next image the clock after done, unless sending
        the result (one beat per clock) is slower. With layers in flight: the slowest stage
        (see the module's docstring)."""
        n_classes = self.layers[-1].n_out
        if self.in_flight:
            return flight_interval([x.cycles for x in self.layers], n_classes, self.input_words,
                                   [x.used_words for x in self.layers],
                                   [x.early for x in self.layers])
        # the result's beats out, the image's beats in (one input word per s_axis beat)
        return max(self.latency_cycles + 1, n_classes + 1, self.input_words)

    @property
    def result_slots(self) -> int:
        """Results the AXI4-Stream wrapper can hold (templates/axis.vhd.j2): an image starts
        only when images in the core + results waiting are fewer. One being sent and one
        being computed; in flight, one per layer and one in the argmax too."""
        return len(self.layers) + 2 if self.in_flight else 2

    @property
    def argmax_gate(self) -> bool:
        """Layers in flight: the last layer is not longer than the argmax, so it may start
        only when the argmax is idle (templates/core.vhd.j2)."""
        return self.layers[-1].cycles <= argmax_latency(self.layers[-1].n_out)


def plan_design(q: qf.QuantizedModel, part: str, dsp_budget: int,
                neurons_per_rom_asked: int | None,
                pe_asked: list[int] | None = None, in_flight: bool = False,
                simd_asked: list[int] | None = None, dsp_pairs: bool = False) -> DesignPlan:
    """The plan of design q: lanes (PE) and passes per layer, ROM packing, the DSP budget
    (in DSP blocks) spent on the layers' lanes in order (the lanes beyond it get LUT
    multipliers; with dsp_pairs two lanes per block where pairs_fit), latencies, and the
    capacity check against the part."""
    layers = []
    left = dsp_budget
    pe_per_layer = per_layer(pe_asked, q.n_layers)
    simd_per_layer = per_layer(simd_asked, q.n_layers)
    for l in range(q.n_layers):
        n_out, n_in = q.W[l].shape
        pe = lanes(n_out, pe_per_layer[l])
        simd = lanes(n_in, simd_per_layer[l]) if simd_per_layer[l] is not None else 1
        if simd > 1 and l > 0:
            raise ValueError(f"SIMD {simd} for layer {l}: only the first layer takes several "
                             f"inputs per clock so far; give the later layers 1")
        passes, groups = math.ceil(n_out / pe), math.ceil(n_in / simd)
        cycles, _, early = layer_timing(q, l, pe, simd, in_flight)
        depth = 1 << addr_bits(passes * groups)
        pack = (split_pack(pe, simd, q.weight_bits, depth)
                if in_flight and is_ecp5(part) and neurons_per_rom_asked is None
                else neurons_per_rom(pe, neurons_per_rom_asked))
        pairs = pair_layer(dsp_pairs, q, l, pe, simd, left)
        n_dsp = dsp_lanes_within(pe, simd, left, pairs)
        left -= dsp_blocks(n_dsp, simd, pairs)
        width = pack * simd * q.weight_bits
        n_roms = math.ceil(pe / pack)
        lo, hi = q.acc_range(l)
        layers.append(LayerPlan(
            layer=l, n_in=n_in, n_out=n_out, hidden=l < q.n_layers - 1,
            input_bits=q.layer_input_bits(l), acc_bits=q.acc_bits(l), acc_min=lo,
            acc_max=hi, wide=wide_acc(q.acc_bits(l)), x_latency=x_latency(l, in_flight),
            cycles=cycles, pe=pe, simd=simd, groups=groups,
            passes=passes, addr_bits=addr_bits(groups), w_addr_bits=addr_bits(passes * groups),
            pack=pack, n_roms=n_roms, rom_depth=depth, rom_width=width,
            rom_slice=rom_slice(depth, width, q.weight_bits),
            ramb18=n_roms * ramb18_per_rom(depth, width), dsp_lanes=n_dsp,
            dsp_macs=n_dsp * simd, dsp_pairs=pairs, dsp_blocks=dsp_blocks(n_dsp, simd, pairs),
            lut_macs=(pe - n_dsp) * simd,
            requant_multipliers=requant_multipliers(l < q.n_layers - 1, wide_acc(q.acc_bits(l))),
            early=early))
    for x, e in zip(layers, early_layers([x.cycles for x in layers],
                                         [x.used_words for x in layers],
                                         [x.early for x in layers], q.topology[-1],
                                         layers[0].groups)):
        x.early = e
    plan = DesignPlan(
        layers=layers, part=part, dsp_budget=dsp_budget,
        neurons_per_rom=neurons_per_rom_asked, pe=pe_per_layer, in_flight=in_flight,
        input_bits=q.input_bits,
        weight_bits=q.weight_bits,
        latency_cycles=sum(x.cycles for x in layers) + argmax_latency(q.topology[-1])
        + (HANDOFF_CLOCKS * (len(layers) - 1) if in_flight else 0),
        ideal_cycles=sum(q.topology[:-1]), input_buffer_depth=1 << layers[0].addr_bits,
        s_axis_bits=s_axis_bits(q.input_bits * layers[0].simd), m_axis_bits=m_axis_bits(q),
        class_bits=addr_bits(max(q.topology[-1], 2)))
    plan.capacity = capacity_check(plan)
    return plan


def capacity_check(plan: DesignPlan) -> dict:
    """The plan's own count of what the design needs against what the part has: RAMB18
    (weights ROMs + input buffer), DSP48E1 (the multiply-accumulates placed in DSP blocks +
    the requantizers' multipliers), and a rough LUT count of the LUT multipliers. Not an
    estimate of the whole design (estimate.py gives that): a quick early warning."""
    part = PARTS[plan.part]
    ramb18 = plan.ramb18 + input_buffer_ramb18(plan.layers[0].n_in, plan.input_bits,
                                               plan.layers[0].simd)
    dsp = plan.dsp_blocks + sum(x.requant_multipliers for x in plan.layers)
    lut = sum(lut_mult_luts(x.lut_macs, plan.weight_bits, x.input_bits)
              for x in plan.layers)
    need = {"RAMB18": ramb18, "DSP48E1": dsp, "LUT_multipliers_LUT": lut}
    have = {"RAMB18": part["RAMB18"], "DSP48E1": part["DSP48E1"],
            "LUT_multipliers_LUT": part["LUT"]}
    return {"part": plan.part, "needs": need, "has": have,
            "over": [k for k in need if need[k] > have[k]]}


# --------------------------------------------------------------------------- --fold auto
# What an automatic fold may spend beside the DSP blocks: LUT multipliers and the adders of
# the SIMD products up to this share of the part's LUTs, leaving the rest to the
# accumulators, ROM addressing and control (about 12,000 LUT for 784->256->10, README
# "Estimate"). On an ECP5 part no LUT multipliers at all: 116 of them (784->256->10) filled
# 44,635 of the LFE5U-85F's 83,640 LUT4 and the router had not finished after 45 min
# (docs/timing.md), so there every multiplier is a MULT18X18D.
AUTO_LUT_MULT_SHARE = 0.5


# The most inputs per clock an automatic fold gives the first layer: an input word (and an
# s_axis beat) of at most AUTO_MAX_WORD_BITS bits. On an ECP5 one: a lane adds its SIMD
# products in one clock (layer.vhd.j2), and there the SIMD-4 fold of 784->256->10 (37
# lanes, 148 of the 156 MULT18X18D) was estimated at 64 MHz after placement and did not
# route in 20 min (docs/timing.md); one input per clock (128 lanes) is the tested shape.
AUTO_MAX_WORD_BITS = 128
AUTO_MAX_SIMD_ECP5 = 1


@dataclass
class FoldChoice:
    """The fold --fold auto / --target-fps picked, and why it is that one."""
    pe: list[int]               # lanes per layer
    simd: list[int]             # inputs per clock per layer (only the first may exceed 1)
    interval: int               # predicted clocks between images, layers in flight
    multipliers: int            # multiply-accumulate multipliers (the requantizers' apart)
    dsp_macs: int               # of them in DSP blocks
    dsp_blocks: int             # the DSP blocks they take (two each with dsp_pairs)
    dsp_pairs: bool             # two lanes per DSP block where the widths allow
    lut_macs: int               # in LUTs
    ramb18: int                 # weights ROMs + input buffer, RAMB18-equivalents
    lut_mult_luts: int          # LUTs of the LUT multipliers and the SIMD adders
    limit: str                  # what keeps the next faster fold out ("" if none is faster)
    target_interval: int | None = None  # --target-fps: the most clocks per image allowed

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def auto_dsp_for_macs(q: qf.QuantizedModel, part: str, dsp_budget: int | None) -> int:
    """DSP blocks an automatic fold gives the lanes: the budget (default all of the part's)
    less the requantizers'."""
    requant = sum(requant_multipliers(l < q.n_layers - 1, wide_acc(q.acc_bits(l)))
                  for l in range(q.n_layers))
    budget = PARTS[part]["DSP48E1"] if dsp_budget is None else dsp_budget
    return max(0, budget - requant)


def stage_clocks(n_in: int, layer: int, passes: int, simd: int = 1) -> int:
    """Clocks a layer holds an image with layers in flight: its cycles, + 2 after the first
    (it is seen idle a clock late, and starts a clock after its new input is copied)."""
    return (layer_cycles(n_in, layer, passes, simd, in_flight=True)
            + (HANDOFF_CLOCKS + 1 if layer > 0 else 0))


def shape_within(n_in: int, n_out: int, layer: int, clocks: int,
                 max_simd: int) -> tuple[int, int] | None:
    """(lanes, SIMD) with the fewest multipliers (lanes x SIMD; a tie: fewer inputs per
    clock) that keep a layer within `clocks` clocks; None: not even one lane per neuron
    does. max_simd 0: the layer cannot be folded (one lane per neuron, one input per clock)."""
    if max_simd == 0:
        return (n_out, 1) if stage_clocks(n_in, layer, 1) <= clocks else None
    best = None
    for simd in range(1, max_simd + 1):
        groups = math.ceil(n_in / simd)
        most_passes = min(n_out, (clocks - stage_clocks(n_in, layer, 1, simd)) // groups + 1)
        if most_passes >= 1:
            pe = math.ceil(n_out / most_passes)
            if best is None or pe * simd < best[0] * best[1]:
                best = (pe, simd)
        if groups == 1:
            break  # more inputs per clock change nothing
    return best


def fold_cost(q: qf.QuantizedModel, pe: list[int], simd: list[int], dsp_for_macs: int,
              dsp_pairs: bool = False, split_roms: bool = False) -> dict:
    """Multipliers, DSP/LUT split (DSP blocks filled layer by layer, as plan_design does,
    two lanes per block with dsp_pairs where pairs_fit), RAMB18, and the LUTs of the LUT
    multipliers (LUTS_PER_LUT_MULT_BIT), of the adders that sum each lane's SIMD products (a
    LUT per sum bit) and of the pairs' splitting adders (a LUT per product bit) of a fold
    (one ROM per layer; split_roms: ROMs of split_pack lanes, as layers in flight have
    them on an ECP5)."""
    left, dsp, blocks, lut_macs, luts, ramb18 = dsp_for_macs, 0, 0, 0, 0, 0
    for l, (lanes_l, simd_l) in enumerate(zip(pe, simd)):
        n_out, n_in = q.W[l].shape
        pairs = pair_layer(dsp_pairs, q, l, lanes_l, simd_l, left)
        n_dsp = dsp_lanes_within(lanes_l, simd_l, left, pairs)
        used = dsp_blocks(n_dsp, simd_l, pairs)
        left -= used
        blocks += used
        dsp += n_dsp * simd_l
        n_lut = (lanes_l - n_dsp) * simd_l
        lut_macs += n_lut
        product_bits = q.weight_bits + q.layer_input_bits(l)
        luts += lut_mult_luts(n_lut, q.weight_bits, q.layer_input_bits(l))
        # each lane adds its SIMD products in logic: SIMD - 1 adders, a LUT per sum bit
        luts += lanes_l * (simd_l - 1) * (product_bits + addr_bits(simd_l))
        if pairs:  # the high product of each pair: its field of the packed product + a borrow
            luts += (n_dsp // 2) * simd_l * product_bits
        depth = 1 << addr_bits(math.ceil(n_out / lanes_l) * math.ceil(n_in / simd_l))
        pack = split_pack(lanes_l, simd_l, q.weight_bits, depth) if split_roms else lanes_l
        ramb18 += (math.ceil(lanes_l / pack)
                   * ramb18_per_rom(depth, pack * simd_l * q.weight_bits))
    ramb18 += input_buffer_ramb18(q.topology[0], q.input_bits, simd[0])
    return {"multipliers": sum(p * s for p, s in zip(pe, simd)), "dsp_macs": dsp,
            "dsp_blocks": blocks, "lut_macs": lut_macs, "ramb18": ramb18,
            "lut_mult_luts": luts}


def fold_limit(cost: dict, part: str) -> str:
    """Why a fold (fold_cost) does not fit the part by the rule of --fold auto, "" if it
    fits: no LUT multipliers on an ECP5, else LUT multipliers and SIMD adders within
    AUTO_LUT_MULT_SHARE of the LUTs; ROMs and input buffer within the RAMB18. (The DSP
    blocks are filled only up to what fold_cost was given.)"""
    have = PARTS[part]
    over = []
    if is_ecp5(part) and cost["lut_macs"]:
        over.append(f"{cost['multipliers']} multipliers, {cost['lut_macs']} more than the "
                    f"{cost['dsp_macs']} MULT18X18D left (no LUT multipliers on an ECP5)")
    elif cost["lut_mult_luts"] > int(have["LUT"] * AUTO_LUT_MULT_SHARE):
        blocks = (f"{cost['dsp_blocks']} DSP blocks" if cost["dsp_blocks"] != cost["dsp_macs"]
                  else "DSP blocks")
        over.append(f"{cost['multipliers']} multipliers: {cost['dsp_macs']} in {blocks} "
                    f"and {cost['lut_macs']} in LUTs ({cost['lut_mult_luts']:,} LUT with the "
                    f"SIMD adders, more than {AUTO_LUT_MULT_SHARE:.0%} of the {have['LUT']:,})")
    if cost["ramb18"] > have["RAMB18"]:
        over.append(f"{cost['ramb18']} RAMB18 of {have['RAMB18']}")
    return "; ".join(over)


def choose_fold(q: qf.QuantizedModel, part: str, dsp_budget: int | None = None,
                target_interval: int | None = None, max_simd: int | None = None,
                dsp_pairs: bool | None = None) -> FoldChoice:
    """--fold auto (target_interval None): the fastest fold, layers in flight, that fits
    the part: DSP blocks (dsp_budget, default all of the part's) for the requantizers and
    as many multipliers as they hold, LUT multipliers beyond them within
    AUTO_LUT_MULT_SHARE of the LUTs, ROMs and input buffer within the RAMB18. Each layer
    gets lanes (PE), the first also inputs per clock (SIMD), the fewest multipliers that
    keep it within the slowest layer's clocks (balanced).
    --target-fps (target_interval: the most clocks per image): the cheapest fold that
    reaches it. max_simd: the most inputs per clock for the first layer (default: an input
    word of AUTO_MAX_WORD_BITS). dsp_pairs: two lanes per DSP block where the widths allow
    (default: on a Xilinx part; an ECP5's MULT18X18D is too narrow for two products).
    ValueError when no fold fits (or none reaches the target)."""
    dsp_for_macs = auto_dsp_for_macs(q, part, dsp_budget)
    if dsp_pairs is None:
        dsp_pairs = not is_ecp5(part)
    # layers with accumulators beyond 32 bits are not folded (make_plan refuses it)
    most = max_simd
    if most is None:
        most = (AUTO_MAX_SIMD_ECP5 if is_ecp5(part)
                else max(1, AUTO_MAX_WORD_BITS // q.input_bits))
    max_simd = [0 if wide_acc(q.acc_bits(l)) else 1 for l in range(q.n_layers)]
    if max_simd[0]:
        max_simd[0] = max(1, min(q.topology[0], most))

    def fold_at(clocks: int) -> list[tuple[int, int]] | None:
        shapes = [shape_within(q.W[l].shape[1], q.W[l].shape[0], l, clocks, max_simd[l])
                  for l in range(q.n_layers)]
        return None if None in shapes else shapes

    candidates = set()
    for l in range(q.n_layers):
        n_out, n_in = q.W[l].shape
        for simd in range(1, max(1, max_simd[l]) + 1):
            candidates.update(stage_clocks(n_in, l, p, simd) for p in range(1, n_out + 1))
    candidates = sorted(candidates)
    if target_interval is not None:
        candidates = [t for t in candidates if t <= target_interval][::-1]  # cheapest first
    limit = ""
    for clocks in candidates:
        shapes = fold_at(clocks)
        if shapes is None:
            continue
        pe, simd = [p for p, _ in shapes], [s for _, s in shapes]
        cost = fold_cost(q, pe, simd, dsp_for_macs, dsp_pairs, split_roms=is_ecp5(part))
        reason = fold_limit(cost, part)
        if reason:
            limit = reason
            if target_interval is not None:
                break  # a faster fold costs more still
            continue
        cycles, sweeps, can_early = map(list, zip(*(layer_timing(q, l, pe[l], simd[l], True)
                                                    for l in range(q.n_layers))))
        interval = flight_interval(
            cycles, q.topology[-1], math.ceil(q.topology[0] / simd[0]), sweeps,
            early_layers(cycles, sweeps, can_early, q.topology[-1],
                         math.ceil(q.topology[0] / simd[0])))
        if target_interval is not None and interval > target_interval:
            continue  # the argmax or the result's beats hold it back: a faster fold
        return FoldChoice(pe=pe, simd=simd, interval=interval, limit=limit,
                          target_interval=target_interval, dsp_pairs=dsp_pairs, **cost)
    if target_interval is not None and not limit:
        fastest = candidates[-1] if candidates else stage_clocks(q.topology[0], 0, 1)
        raise ValueError(f"no fold takes {target_interval} clocks per image or fewer "
                         f"(the fastest one here takes about {fastest})")
    raise ValueError(f"no fold fits {part}: {limit}")
