"""Human-readable report and throughput plot of a chaos `RunResult`."""

from __future__ import annotations

from collections import Counter

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from chaos.result import RunResult

FAULT_COLOURS = ("tab:blue", "tab:gray", "tab:olive", "tab:cyan", "tab:brown", "tab:pink")


def _fault_line(fault_start: float, fault_end: float | None) -> str:
    if fault_end is None:
        return f"{fault_start:7.2f}s .. (not healed)"
    return f"{fault_start:7.2f}s .. {fault_end:7.2f}s ({fault_end - fault_start:.2f}s)"


def render_text(run: RunResult, min_gap: float = 0.5) -> str:
    """Faults, availability (write gaps), failovers, op counts and every checker verdict."""
    lines = [f"scenario {run.scenario}: {run.duration:.1f}s, verdict {'PASS' if run.ok else 'FAIL'}", "", "faults:"]
    for fault in sorted(run.faults, key=lambda f: f.start):
        detail = f" — {fault.detail}" if fault.detail else ""
        lines.append(f"  {_fault_line(fault.start, fault.end)}  {fault.kind} {fault.target}{detail}")
    if not run.faults:
        lines.append("  (none)")
    gaps = run.write_gaps(min_gap)
    lines += ["", f"availability: {len(gaps)} write gap(s) of at least {min_gap}s"]
    for start, length in gaps:
        lines.append(f"  {start:7.2f}s .. {start + length:7.2f}s  no successful write for {length:.2f}s")
    if gaps:
        lines.append(f"  longest {max(length for _, length in gaps):.2f}s, total {sum(g for _, g in gaps):.2f}s")
    lines += ["", "failovers:"]
    for failover in run.failovers:
        lines.append(f"  {failover.what}: fault at {failover.fault_time:.2f}s, recovered at "
                     f"{failover.recovered_time:.2f}s -> {failover.seconds:.2f}s")
    if not run.failovers:
        lines.append("  (none measured)")
    counts = Counter((op.f, op.type) for op in run.history.ops if op.type != "invoke")
    lines += ["", "operations (ok / fail / info):"]
    total = Counter(op.type for op in run.history.ops if op.type != "invoke")
    for f in sorted({f for f, _ in counts}):
        lines.append(f"  {f:9s} {counts[(f, 'ok')]:7d} {counts[(f, 'fail')]:7d} {counts[(f, 'info')]:7d}")
    lines.append(f"  {'total':9s} {total['ok']:7d} {total['fail']:7d} {total['info']:7d}")
    lines += ["", "checks:"]
    for check in run.checks:
        lines.append(f"  [{'PASS' if check.ok else 'FAIL'}] {check.name}: {check.summary}")
        lines.extend(f"      {detail}" for detail in check.details[:15])
        if len(check.details) > 15:
            lines.append(f"      ... {len(check.details) - 15} more")
    if not run.checks:
        lines.append("  (none run)")
    if run.notes:
        lines += ["", "notes:", *(f"  {note}" for note in run.notes)]
    return "\n".join(lines) + "\n"


def plot(run: RunResult, path: str, bucket: float = 1.0) -> None:
    """PNG of ok / failed / unknown completions per ``bucket`` seconds, faults shaded and labelled."""
    rows = run.throughput(bucket)
    times = [t for t, *_ in rows]
    end = max(run.duration, times[-1] + bucket)
    times.append(end)  # close the last step
    rows.append(rows[-1])
    fig = Figure(figsize=(11, 4.5))
    FigureCanvasAgg(fig)  # Agg canvas without pyplot: no global state, no display needed
    ax = fig.add_subplot()
    ax.step(times, [r[1] / bucket for r in rows], where="post", label="ok", color="tab:green")
    ax.step(times, [r[2] / bucket for r in rows], where="post", label="failed", color="tab:red")
    ax.step(times, [r[3] / bucket for r in rows], where="post", label="unknown", color="tab:purple")
    top = max([1.0, *(max(r[1:]) / bucket for r in rows)])
    for number, fault in enumerate(sorted(run.faults, key=lambda f: f.start)):
        stop = fault.end if fault.end is not None else end
        colour = FAULT_COLOURS[number % len(FAULT_COLOURS)]
        ax.axvspan(fault.start, stop, alpha=0.15, color=colour)
        ax.axvline(fault.start, color=colour, linestyle="--", linewidth=0.8)
        ax.text(fault.start, top * (0.97 - 0.07 * (number % 5)), f" {fault.kind} {fault.target}",
                fontsize=8, color=colour, va="top")
    for gap_start, length in run.write_gaps():
        ax.hlines(-0.02 * top, gap_start, gap_start + length, color="black", linewidth=3)
    ax.set_xlim(0, end)
    ax.set_ylim(-0.05 * top, top * 1.05)
    ax.set_xlabel("seconds since start")
    ax.set_ylabel(f"operations / s ({bucket:g}s buckets)")
    ax.set_title(f"{run.scenario}: {'PASS' if run.ok else 'FAIL'} (black bars: write gaps)")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
