"""Tests of skssl.augment: reproducibility, purity and statistics."""

import pytest
import torch

from skssl._augment import feature_mask, gaussian_noise, neighbor_view, scarf_corrupt


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _x(n=400, d=50):
    # Values in [1, 2): never 0, never equal to a pool value below.
    return 1 + torch.rand(n, d, generator=_gen(100))


def _pool(m=30, d=50):
    # pool[r, j] = 1000 * j + r: the value tells its column and row.
    return (1000 * torch.arange(d) + torch.arange(m)[:, None]).double()


VIEWS = {
    "noise": lambda x, g: gaussian_noise(x, 0.5, x.std(dim=0), g),
    "mask": lambda x, g: feature_mask(x, 0.3, g, fill=x.mean(dim=0)),
    "scarf": lambda x, g: scarf_corrupt(x, _pool(d=x.shape[1]), 0.3, g),
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_views_are_seeded_and_pure(name):
    x = _x(50, 8).double()
    original = x.clone()
    first = VIEWS[name](x, _gen(1))
    torch.testing.assert_close(VIEWS[name](x, _gen(1)), first)
    assert not torch.equal(VIEWS[name](x, _gen(2)), first)
    assert torch.equal(x, original)
    assert first.shape == x.shape and first.dtype == x.dtype


def test_gaussian_noise_statistics():
    x = _x(20000, 3)
    std = torch.tensor([1.0, 2.0, 0.0])
    noise = gaussian_noise(x, 0.5, std, _gen()) - x
    expected = torch.tensor([0.5, 1.0, 0.0])
    torch.testing.assert_close(noise.std(dim=0), expected, atol=0.02, rtol=0.03)
    assert noise.mean(dim=0).abs().max() < 0.03
    assert torch.equal(gaussian_noise(x, 0.0, std, _gen()), x)


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5])
def test_feature_mask_rate_and_fill(rate):
    x = _x()
    fill = -torch.arange(50.0)
    out = feature_mask(x, rate, _gen(), fill=fill)
    masked = out != x
    assert abs(masked.float().mean().item() - rate) < 0.01
    assert torch.equal(out[masked], fill.expand_as(x)[masked])
    zeroed = feature_mask(x, rate, _gen())
    assert torch.equal(zeroed == 0, masked)


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.6])
def test_scarf_values_come_from_same_column_of_pool(rate):
    x, pool = _x(), _pool()
    out = scarf_corrupt(x, pool, rate, _gen())
    replaced = out != x
    assert abs(replaced.float().mean().item() - rate) < 0.01
    columns = torch.arange(50).expand_as(x)
    values = out[replaced]
    assert torch.equal(torch.div(values, 1000, rounding_mode="floor").long(), columns[replaced])
    rows = values.long() % 1000
    if rate > 0:
        assert rows.unique().numel() == pool.shape[0]


def test_neighbor_view_returns_listed_neighbours_uniformly():
    neighbors = torch.randint(0, 100, (100, 4), generator=_gen(3), dtype=torch.int32)
    index = torch.randint(0, 100, (20000,), generator=_gen(4))
    original = index.clone()
    out = neighbor_view(index, neighbors, _gen())
    assert out.dtype == torch.int64 and out.shape == index.shape
    assert torch.equal(index, original)
    hits = neighbors[index].long() == out[:, None]
    assert hits.any(dim=1).all()
    # Each of the k columns is drawn about 1/k of the time.
    first_hit = hits.float().argmax(dim=1)
    distinct = (neighbors[index].long().sort(dim=1).values.diff(dim=1) != 0).all(dim=1)
    share = torch.bincount(first_hit[distinct], minlength=4).float() / distinct.sum()
    torch.testing.assert_close(share, torch.full((4,), 0.25), atol=0.02, rtol=0)
    torch.testing.assert_close(neighbor_view(index, neighbors, _gen()), out)


@pytest.mark.parametrize(
    "call",
    [
        lambda x, g: gaussian_noise(x, -0.1, 1.0, g),
        lambda x, g: feature_mask(x, 1.0, g),
        lambda x, g: feature_mask(x, -0.1, g),
        lambda x, g: scarf_corrupt(x, x, 1.5, g),
        lambda x, g: scarf_corrupt(x, x[:, :2], 0.1, g),
        lambda x, g: neighbor_view(torch.arange(2), torch.zeros(4, 0, dtype=torch.long), g),
    ],
)
def test_bad_arguments_raise(call):
    with pytest.raises(ValueError):
        call(_x(4, 3), _gen())
