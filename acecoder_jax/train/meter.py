"""Throughput: tokens/s and model FLOPs utilisation (MFU) against the accelerator's peak dense bf16 FLOP/s."""

from __future__ import annotations

import time

# Peak dense bf16 FLOP/s per device (vendor datasheets). CPU has no meaningful peak: MFU is not reported
# there.
PEAK_BF16_FLOPS: dict[str, float] = {
    "h100": 989e12,  # H100 SXM
    "h200": 989e12,
    "a100": 312e12,
    "l40s": 362e12,
    "tpu v4": 275e12,
    "tpu v5 lite": 197e12,  # v5e
    "tpu v5e": 197e12,
    "tpu v5p": 459e12,
    "tpu v5": 459e12,
    "tpu v6 lite": 918e12,  # v6e (Trillium)
    "tpu v6e": 918e12,
}


def peak_flops(device_kind: str) -> float | None:
    """Peak bf16 FLOP/s of one device of this kind, or None when unknown (CPU)."""
    kind = device_kind.lower()
    for name in sorted(PEAK_BF16_FLOPS, key=len, reverse=True):  # "tpu v5 lite" before "tpu v5"
        if name in kind:
            return PEAK_BF16_FLOPS[name]
    return None


class ThroughputMeter:
    """Tokens and FLOPs over the steps since the last `read`, timed on the host."""

    def __init__(self, peak_flops_total: float | None) -> None:
        self.peak = peak_flops_total
        self._start = time.perf_counter()
        self._tokens = 0
        self._flops = 0.0

    def add(self, tokens: int, flops: float) -> None:
        """Count one step's real tokens and model FLOPs."""
        self._tokens += tokens
        self._flops += flops

    def read(self) -> tuple[float, float | None]:
        """(tokens/s, MFU or None) since the previous read; resets the window."""
        now = time.perf_counter()
        elapsed = max(now - self._start, 1e-9)
        tokens_per_s = self._tokens / elapsed
        mfu = self._flops / elapsed / self.peak if self.peak else None
        self._start, self._tokens, self._flops = now, 0, 0.0
        return tokens_per_s, mfu
