"""Operational intensity of a Monarch FFT convolution under three fusion levels (P1's example).

An FFT convolution ``y = iFFT(FFT(x) * FFT(k))`` of ``N = b**p`` points uses the Monarch
decomposition (FlashFFTConv): each FFT is ``p`` block-DFT GEMM stages (a ``b x b`` complex DFT
applied along one axis of the ``b x ... x b`` view: ``8*b`` real FLOP per element) separated by
``p - 1`` twiddle multiplications (a complex multiply: 6 FLOP per element). Between the two FFTs a
pointwise complex multiply by the kernel's FFT (6 FLOP per element, reading ``N`` kernel values).

Assumptions (P1 gives only the three resulting numbers): complex values of ``element_bytes``
(two BF16 halves: 4 bytes); DFT matrices and twiddle factors are constants generated or held on chip
(a batch of many sequences amortises their load); per element of the sequence:

* no fusion: every GEMM stage, twiddle and the pointwise multiply is a kernel reading its input and
  writing its output (the pointwise one also reads the kernel FFT);
* partial fusion: each twiddle runs in the epilogue of the GEMM before it, and the pointwise multiply
  in the epilogue of the last forward GEMM: ``p`` kernels per FFT;
* full fusion: one kernel reads ``x`` and the kernel FFT and writes ``y``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MonarchFFTConv:
    """Shape of the example: block size, order (N = block**order) and bytes per complex value."""

    block: int = 32
    order: int = 4
    element_bytes: float = 4.0

    @property
    def n_points(self) -> int:
        return int(self.block ** self.order)

    def flop_per_point(self) -> float:
        fft = self.order * 8.0 * self.block + (self.order - 1) * 6.0
        return 2 * fft + 6.0

    def bytes_per_point(self, fusion: str) -> float:
        """HBM bytes per sequence point at fusion level ``none``, ``partial`` or ``full``."""
        e, p = self.element_bytes, self.order
        if fusion == "none":
            kernels_per_fft = p + (p - 1)
            return (2 * kernels_per_fft * 2 + 3) * e
        if fusion == "partial":
            return (2 * p * 2 + 1) * e  # 2p in/out pairs; the kernel FFT read by the fused epilogue
        if fusion == "full":
            return 3 * e
        raise ValueError(f"unknown fusion level {fusion!r}")

    def intensity_flop_per_byte(self, fusion: str) -> float:
        return self.flop_per_point() / self.bytes_per_point(fusion)
