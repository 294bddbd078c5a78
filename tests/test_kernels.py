"""Parity of the Triton kernels with their torch references (interpreter on CPU, real on GPU),
and the backend dispatch policy."""

import pytest
import torch

from vqcodec.kernels import backend, masked_conv2d, masked_conv2d_ref, vq_nearest, vq_nearest_ref
from vqcodec.kernels.masked_conv import _MaskedConvTriton
from vqcodec.model.prior import causal_mask

triton_runs = pytest.mark.skipif(
    not backend.triton_installed() or not (torch.cuda.is_available() or backend.interpreting()),
    reason="needs triton and a GPU or TRITON_INTERPRET=1",
)
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
FULL = torch.cuda.is_available()  # full-size shapes on a GPU, tiny ones under the interpreter


def _vq_triton(z, cb):
    from vqcodec.kernels._vq_nearest_triton import vq_nearest_triton

    return vq_nearest_triton(z, cb)


@triton_runs
@pytest.mark.parametrize(
    "n,d,k",
    [(1, 64, 512), (1, 1, 1), (37, 3, 7), (130, 65, 100), (64, 64, 65)]
    + ([(200_000, 64, 4096), (5000, 512, 65536)] if FULL else [(300, 17, 130)]),
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_vq_nearest_parity(n, d, k, dtype):
    gen = torch.Generator().manual_seed(n + d + k)
    z = torch.randn(n, d, generator=gen).to(DEVICE, dtype)
    cb = torch.randn(k, d, generator=gen).to(DEVICE, dtype)
    got, want = _vq_triton(z, cb), vq_nearest_ref(z, cb)
    assert got.dtype == torch.long and got.shape == (n,)
    mismatch = got != want
    if mismatch.any():  # only acceptable at fp32 near-ties: equal distances to 1e-5 relative
        zf, cf = z.float(), cb.float()
        d_got = (zf[mismatch] - cf[got[mismatch]]).pow(2).sum(1)
        d_want = (zf[mismatch] - cf[want[mismatch]]).pow(2).sum(1)
        torch.testing.assert_close(d_got, d_want, rtol=1e-5, atol=1e-5)
        assert mismatch.float().mean() < 1e-3


@triton_runs
def test_vq_nearest_ties_go_to_lowest_index():
    # small integers: every distance is exact in any summation order, so the ties are exact
    cb = torch.randint(-8, 9, (70, 8), generator=torch.Generator().manual_seed(0)).float()
    cb = torch.cat([cb, cb]).to(DEVICE)  # every codeword twice: indices i and i + 70
    z = cb[[3, 69, 100]]
    assert _vq_triton(z, cb).tolist() == [3, 69, 30] == vq_nearest_ref(z, cb).tolist()


@triton_runs
@pytest.mark.parametrize(
    "b,cin,cout,h,w,k,centre",
    [(1, 5, 7, 1, 1, 3, False), (2, 16, 24, 5, 7, 3, True), (1, 40, 70, 6, 9, 5, True),
     (1, 32, 512, 3, 4, 3, True)]
    + ([(16, 96, 96, 32, 32, 3, True), (1, 128, 128, 128, 192, 5, True)] if FULL else []),
)  # fmt: skip
def test_masked_conv_parity_forward_and_backward(b, cin, cout, h, w, k, centre):
    gen = torch.Generator().manual_seed(cin * cout)
    x = torch.randn(b, cin, h, w, generator=gen).to(DEVICE).requires_grad_()
    weight = torch.randn(cout, cin, k, k, generator=gen).to(DEVICE).requires_grad_()
    bias = torch.randn(cout, generator=gen).to(DEVICE).requires_grad_()
    mask = causal_mask(k, centre).to(DEVICE)
    got = _MaskedConvTriton.apply(x, weight, bias, mask)
    want = masked_conv2d_ref(x, weight, bias, mask)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * cin * k)
    grad = torch.randn_like(want)
    for g, r in zip(torch.autograd.grad(got, (x, weight, bias), grad),
                    torch.autograd.grad(want, (x, weight, bias), grad), strict=True):  # fmt: skip
        torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-3)


def test_dispatch_policy(monkeypatch):
    cpu = torch.zeros(2, 3)
    monkeypatch.setenv("VQCODEC_KERNELS", "torch")
    assert not backend.use_triton(cpu)
    monkeypatch.setenv("VQCODEC_KERNELS", "auto")
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    assert not backend.use_triton(cpu)  # auto never picks Triton for CPU tensors
    monkeypatch.setenv("VQCODEC_KERNELS", "triton")
    with pytest.raises(backend.KernelUnavailableError, match="cannot run"):
        backend.use_triton(cpu)
    monkeypatch.setenv("VQCODEC_KERNELS", "bogus")
    with pytest.raises(backend.KernelUnavailableError, match="bogus"):
        backend.use_triton(cpu)


@triton_runs
def test_forced_triton_runs_through_the_dispatchers(monkeypatch):
    monkeypatch.setenv("VQCODEC_KERNELS", "triton")
    z, cb = torch.randn(20, 8, device=DEVICE), torch.randn(30, 8, device=DEVICE)
    assert torch.equal(vq_nearest(z, cb), vq_nearest_ref(z, cb))
    x, w = torch.randn(1, 4, 3, 5, device=DEVICE), torch.randn(6, 4, 3, 3, device=DEVICE)
    mask = causal_mask(3, True).to(DEVICE)
    torch.testing.assert_close(masked_conv2d(x, w, None, mask), masked_conv2d_ref(x, w, None, mask))
