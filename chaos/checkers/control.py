"""Deployment checker: never more pods than replicas + maxSurge, and converged after the faults."""

from __future__ import annotations

from chaos.result import CheckResult

NAME = "deployment"


def check_deployment(samples: list[tuple[float, int, int]], replicas: int, max_surge: int,
                     converged: bool) -> CheckResult:
    """``samples`` are (time, pods existing and not terminating, ready pods)."""
    limit = replicas + max_surge
    details: list[str] = []
    over = [(t, pods, ready) for t, pods, ready in samples if pods > limit]
    for t, pods, ready in over[:10]:
        details.append(f"t={t:.3f}s: {pods} pods ({ready} ready) > replicas {replicas} + maxSurge {max_surge}")
    if len(over) > 10:
        details.append(f"... {len(over) - 10} more samples over the limit")
    if samples:
        peak = max(samples, key=lambda s: s[1])
        least_ready = min(samples, key=lambda s: s[2])
        details.append(f"{len(samples)} samples over {samples[-1][0] - samples[0][0]:.1f}s; peak {peak[1]} pods "
                       f"at t={peak[0]:.3f}s; fewest ready {least_ready[2]} at t={least_ready[0]:.3f}s; "
                       f"last {samples[-1][1]} pods / {samples[-1][2]} ready")
    if not converged:
        details.append(f"did not converge to {replicas} ready replicas after the faults")
    problems: list[str] = []
    if not samples:
        problems.append("no samples recorded")
    if over:
        problems.append(f"{len(over)} sample(s) above {limit} pods")
    if not converged:
        problems.append("not converged")
    if problems:
        return CheckResult(NAME, False, "FAILED: " + "; ".join(problems), details)
    return CheckResult(NAME, True, f"at most {limit} pods in {len(samples)} samples; converged to {replicas}", details)
