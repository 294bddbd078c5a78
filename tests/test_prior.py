"""Causality of the stacked priors and exactness of the cached wavefront stepper."""

import pytest
import torch

from vqcodec.coding.schedule import num_steps, wavefronts
from vqcodec.model.config import PriorConfig
from vqcodec.model.prior import PixelCNN, PixelCNNStepper

CONFIGS = [
    PriorConfig(codes=32, embed_dim=8, channels=16, layers=3, kernel=3),
    PriorConfig(codes=32, embed_dim=8, channels=16, layers=2, kernel=5, cond_codes=16,
                cond_channels=8),
]  # fmt: skip


def _net(cfg: PriorConfig) -> PixelCNN:
    torch.manual_seed(0)
    net = PixelCNN(cfg).eval()
    with torch.no_grad():  # non-zero biases everywhere, so no path is trivially silent
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return net


@pytest.mark.parametrize("cfg", CONFIGS)
def test_whole_network_is_causal(cfg):
    """Changing indices at raster positions >= p never changes the logits at positions < p."""
    net = _net(cfg)
    h, w = 7, 9
    gen = torch.Generator().manual_seed(1)
    idx = torch.randint(0, cfg.codes, (1, h, w), generator=gen)
    cond = torch.randint(0, 16, (1, 4, 5), generator=gen) if cfg.cond_codes else None
    with torch.no_grad():
        base = net(idx, cond)
        for p in [0, 1, w - 1, w, 2 * w + 3, h * w - 1]:
            changed = idx.clone().view(-1)
            changed[p:] = torch.randint(0, cfg.codes, (h * w - p,), generator=gen)
            logits = net(changed.view(1, h, w), cond)
            before = base.flatten(2)[..., :p]
            assert torch.equal(before, logits.flatten(2)[..., :p]), p
            if p < h * w - 1:  # and later positions do see the change (not vacuous)
                assert not torch.equal(base.flatten(2)[..., p:], logits.flatten(2)[..., p:])


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (5, 1), (6, 9)])
def test_stepper_matches_teacher_forced(cfg, shape):
    net = _net(cfg)
    h, w = shape
    idx = torch.randint(0, cfg.codes, (h, w))
    cond = torch.randint(0, 16, ((h + 1) // 2, (w + 1) // 2)) if cfg.cond_codes else None
    with torch.no_grad():
        full = net(idx[None], None if cond is None else cond[None])[0].permute(1, 2, 0)
    stepper = PixelCNNStepper(net, h, w, cond)
    for rows, cols in wavefronts(h, w, cfg.reach):
        torch.testing.assert_close(stepper.step(rows, cols), full[rows, cols], atol=1e-5, rtol=0)
        stepper.set_symbols(rows, cols, idx[rows, cols])


@pytest.mark.parametrize("reach", [1, 2])
@pytest.mark.parametrize("shape", [(6, 11), (5, 1), (1, 7)])
def test_wavefront_covers_each_position_once_after_its_context(reach, shape):
    h, w = shape
    fronts = wavefronts(h, w, reach)
    assert len(fronts) <= num_steps(h, w, reach)
    if w > reach:
        assert len(fronts) == num_steps(h, w, reach)
    step_of = {}
    for t, (rows, cols) in enumerate(fronts):
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
            step_of[(i, j)] = t
    assert len(step_of) == h * w
    for (i, j), t in step_of.items():  # every neighbour one layer reads is in an earlier front
        for di in range(1, reach + 1):
            for dj in range(-reach, reach + 1):
                if (i - di, j + dj) in step_of:
                    assert step_of[(i - di, j + dj)] < t
        for dj in range(1, reach + 1):
            if (i, j - dj) in step_of:
                assert step_of[(i, j - dj)] < t
