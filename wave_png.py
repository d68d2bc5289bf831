"""wave_png.py: draw a few signals of a GHDL .vcd as a timing diagram PNG (matplotlib).

    render(vcd, [(name, width), ...], out_png, title)

Two panels: the first clocks after the run starts, and the clocks around the first rising
edge of a signal called `done`, which is what a lab sheet talks about (the address counter
starting, the weights bus and accumulator moving, the result arriving). Buses show their
value in decimal (signed for accumulators and weights, hex above 32 bits).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from vcdvcd import VCDVCD  # noqa: E402

SIGNED_NAMES = ("acc", "acc_0", "w_data", "weight_0")


def _value(bits: str, width: int, name: str) -> str:
    if any(c in bits for c in "xXuUzZ-"):
        return "X"
    v = int(bits, 2)
    short = name.rsplit(".", 1)[-1].split("[")[0]
    if width > 32:
        return f"x{v:0{(width + 3) // 4}X}"[:12]
    if short in SIGNED_NAMES and bits.zfill(width)[0] == "1" and len(bits) == width:
        v -= 1 << width
    return str(v)


def _at(tv: list, t: int) -> str:
    """Value at time t from a sorted (time, value) list."""
    cur = tv[0][1] if tv else "x"
    for time, val in tv:
        if time > t:
            break
        cur = val
    return cur


def _rise(vcd: VCDVCD, name: str) -> int | None:
    return next((t for t, v in vcd[name].tv if v == "1"), None)


def _windows(vcd: VCDVCD, names: list[str], period: int) -> list[tuple[int, int, str]]:
    """Time windows worth a look: the first start (or load) of the circuit, the end of each
    layer (a signal named l<k>_done) and the first done; windows that would overlap are
    merged into the later one."""
    short = {n: n.rsplit(".", 1)[-1] for n in names}
    events = []
    for n, s in short.items():
        t = _rise(vcd, n)
        if t is None:
            continue
        if s in ("start", "load"):
            events.append((t - 2 * period, t + 12 * period, f"{s} rises"))
        elif s == "done" or s.endswith("_done"):
            what = "done" if s == "done" else f"end of layer {s[1:-5]}"
            events.append((t - 10 * period, t + 4 * period, what))
    if not events:
        first = min(t for n in names for t, _ in vcd[n].tv if t > 0)
        return [(max(0, first - 2 * period), first + 12 * period, "start")]
    events.sort()
    merged = [events[0]]
    for ev in events[1:]:
        if ev[0] < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(ev[1], merged[-1][1]),
                          merged[-1][2] + ", " + ev[2])
        else:
            merged.append(ev)
    return [(max(0, a), b, label) for a, b, label in merged]


def render(vcd_path: Path, signals: list[tuple[str, int]], out: Path, title: str) -> Path:
    names = [n for n, _ in signals]
    vcd = VCDVCD(str(vcd_path), signals=names, store_tvs=True)
    clk = next((n for n in names if n.rsplit(".", 1)[-1] == "clk"), None)
    period = 10_000_000  # 10 ns in fs (GHDL's VCD time unit)
    if clk is not None and len(vcd[clk].tv) > 3:
        period = 2 * (vcd[clk].tv[3][0] - vcd[clk].tv[2][0])
    shown = [(n, w) for n, w in signals if n != clk]
    windows = _windows(vcd, [n for n, _ in shown], period)
    fig, axes = plt.subplots(len(windows), 1,
                             figsize=(13, (0.42 * len(shown) + 1.1) * len(windows)),
                             squeeze=False)
    for ax, (t0, t1, label) in zip(axes[:, 0], windows):
        for row, (name, width) in enumerate(shown):
            y = len(shown) - 1 - row
            tv = [(t, v) for t, v in vcd[name].tv]
            changes = [t0] + [t for t, _ in tv if t0 < t < t1] + [t1]
            for a, b in zip(changes[:-1], changes[1:]):
                bits = _at(tv, a)
                if width == 1:
                    level = y + (0.7 if bits == "1" else 0.1)
                    ax.plot([a, b], [level, level], color="tab:blue", lw=1.2)
                    ax.plot([b, b], [y + 0.1, y + 0.7], color="tab:blue", lw=0.5)
                else:
                    ax.fill_between([a, b], y + 0.1, y + 0.7, color="tab:green", alpha=0.15)
                    ax.plot([a, a], [y + 0.1, y + 0.7], color="tab:green", lw=0.8)
                    if b - a >= 0.9 * period:
                        ax.text((a + b) / 2, y + 0.4, _value(bits, width, name),
                                ha="center", va="center", fontsize=6.5)
        for k in range(int((t1 - t0) // period) + 1):  # clock edges as a grid
            ax.axvline(t0 + k * period, color="0.9", lw=0.5, zorder=0)
        ax.set_yticks([len(shown) - 1 - r + 0.4 for r in range(len(shown))])
        ax.set_yticklabels([n.split(".", 1)[-1] for n, _ in shown], fontsize=8)
        ax.set_xlim(t0, t1)
        first, last = -(-t0 // (2 * period)), t1 // (2 * period)   # every second clock
        ticks = [k * 2 * period for k in range(int(first), int(last) + 1)]
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t // period}" for t in ticks], fontsize=7)
        ax.set_xlabel("clock cycles from the start of the simulation")
        ax.set_title(f"{title}: {label}", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
