"""Tests of skssl.losses against naive loop implementations, plus numerics."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skssl._losses import (
    consistency_preserving_loss,
    iic_loss,
    minmax_loss,
    scan_loss,
    self_classifier_loss,
    soft_nearest_neighbor_loss,
)

EPS = 1e-8
SCALES = [1e-3, 1e3]
PROPERTY = settings(max_examples=25, deadline=None)


def _randn(*shape, seed=0, scale=1.0, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=generator, dtype=dtype) * scale).requires_grad_()


def _assert_finite_backward(loss, *inputs):
    assert torch.isfinite(loss)
    loss.backward()
    for tensor in inputs:
        assert tensor.grad is not None
        assert torch.isfinite(tensor.grad).all()


# ---------------------------------------------------------------- naive loops
def _entropy(p):
    return -sum(pc * math.log(max(pc, EPS)) for pc in p)


def _mean_rows(rows):
    return [sum(col) / len(rows) for col in zip(*rows)]


def _cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def _softmax(values):
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    return [e / sum(exps) for e in exps]


def naive_minmax(pa, pn, pf, weight, similarity="cosine", far_weight=1.0):
    def s(a, b):
        return _cosine(a, b) if similarity == "cosine" else sum(x * y for x, y in zip(a, b))

    near = [(1 - s(a, n)) ** 2 for a, row in zip(pa, pn) for n in row]
    far = [s(a, f) ** 2 for a, row in zip(pa, pf) for f in row]
    mean_far = far_weight * sum(far) / len(far)
    return sum(near) / len(near) + mean_far - weight * _entropy(_mean_rows(pa))


def naive_scan(pa, pn, weight):
    logs = [
        math.log(max(sum(x * y for x, y in zip(a, n)), EPS)) for a, row in zip(pa, pn) for n in row
    ]
    return -sum(logs) / len(logs) - weight * _entropy(_mean_rows(pa))


def naive_self_classifier(z1, z2, row_tau, col_tau):
    n, c = len(z1), len(z1[0])

    def target(z):
        columns = [_softmax([z[i][k] / col_tau for i in range(n)]) for k in range(c)]
        rows = [[columns[k][i] for k in range(c)] for i in range(n)]
        return [[q / sum(row) for q in row] for row in rows]

    def prediction(z):
        rows = [_softmax([v / row_tau for v in row]) for row in z]
        sums = [sum(rows[i][k] for i in range(n)) for k in range(c)]
        return [[rows[i][k] / sums[k] for k in range(c)] for i in range(n)]

    def cross(q, p):
        total = sum(q[i][k] * math.log(n / c * p[i][k] + EPS) for i in range(n) for k in range(c))
        return -total / n

    return (cross(target(z1), prediction(z2)) + cross(target(z2), prediction(z1))) / 2


def naive_iic(p1, p2):
    n, c = len(p1), len(p1[0])
    joint = [[sum(p1[i][a] * p2[i][b] for i in range(n)) / n for b in range(c)] for a in range(c)]
    joint = [[(joint[a][b] + joint[b][a]) / 2 for b in range(c)] for a in range(c)]
    total = sum(map(sum, joint))
    joint = [[v / total for v in row] for row in joint]
    marginal = [sum(row) for row in joint]
    return sum(
        max(joint[a][b], EPS)
        * math.log(max(joint[a][b], EPS) / (max(marginal[a], EPS) * max(marginal[b], EPS)))
        for a in range(c)
        for b in range(c)
    )


def naive_consistency(v, v_view, tau):
    def unit(u):
        norm = math.sqrt(sum(x * x for x in u))
        return [x / norm for x in u]

    v, v_view = [unit(u) for u in v], [unit(u) for u in v_view]
    n = len(v)
    total = 0.0
    for i in range(n):
        row = _softmax([sum(a * b for a, b in zip(v[k], v[i])) / tau for k in range(n)])
        total -= sum(math.log(1 - row[j]) for j in range(n) if j != i)
        view_row = _softmax([sum(a * b for a, b in zip(v[k], v_view[i])) / tau for k in range(n)])
        total -= math.log(view_row[i])
    return total / n


def naive_snnl(h, mask, temperature, metric):
    def dist(a, b):
        if metric == "cosine":
            return 1 - _cosine(a, b)
        return sum((x - y) ** 2 for x, y in zip(a, b))

    n = len(h)
    losses = []
    for i in range(n):
        others = [j for j in range(n) if j != i]
        if not any(mask[i][j] for j in others):
            continue
        weights = {j: math.exp(-dist(h[i], h[j]) / temperature) for j in others}
        picked = sum(weights[j] for j in others if mask[i][j])
        losses.append(-math.log(picked / sum(weights.values())))
    return sum(losses) / len(losses)


# ------------------------------------------------------- against naive loops
@pytest.mark.parametrize("n, k, m, c", [(1, 1, 1, 2), (5, 3, 2, 4), (7, 2, 4, 1)])
@pytest.mark.parametrize("weight", [0.0, 2.0])
@pytest.mark.parametrize("similarity, far_weight", [("cosine", 1.0), ("dot", 1.0), ("dot", 3.0)])
def test_minmax_matches_naive(n, k, m, c, weight, similarity, far_weight):
    pa = _randn(n, c, seed=1).softmax(-1)
    pn = _randn(n, k, c, seed=2).softmax(-1)
    pf = _randn(n, m, c, seed=3).softmax(-1)
    loss, terms = minmax_loss(
        pa, pn, pf, entropy_weight=weight, similarity=similarity, far_weight=far_weight
    )
    expected = naive_minmax(pa.tolist(), pn.tolist(), pf.tolist(), weight, similarity, far_weight)
    torch.testing.assert_close(loss, torch.tensor(expected, dtype=torch.float64))
    terms_sum = terms["neighbor"] + far_weight * terms["far"] - weight * terms["entropy"]
    torch.testing.assert_close(loss, terms_sum)
    assert set(terms) == {"neighbor", "far", "entropy"}
    assert all(not t.requires_grad for t in terms.values())


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_minmax_over_leading_head_axis_is_each_heads_loss(similarity):
    pa = _randn(3, 5, 4, seed=1).softmax(-1)
    pn = _randn(3, 5, 2, 4, seed=2).softmax(-1)
    pf = _randn(3, 5, 6, 4, seed=3).softmax(-1)
    losses, terms = minmax_loss(pa, pn, pf, entropy_weight=2.0, similarity=similarity)
    assert losses.shape == (3,) and terms["far"].shape == (3,)
    for head in range(3):
        alone, _ = minmax_loss(
            pa[head], pn[head], pf[head], entropy_weight=2.0, similarity=similarity
        )
        torch.testing.assert_close(losses[head], alone)


def test_self_classifier_over_leading_head_axis_is_each_heads_loss():
    z_1, z_2 = _randn(3, 8, 4, seed=4), _randn(3, 8, 4, seed=5)
    losses, terms = self_classifier_loss(z_1, z_2)
    assert losses.shape == (3,) and terms["l12"].shape == (3,)
    for head in range(3):
        torch.testing.assert_close(losses[head], self_classifier_loss(z_1[head], z_2[head])[0])


def test_iic_over_leading_head_axis_is_each_heads_loss():
    p_1, p_2 = _randn(3, 8, 4, seed=6).softmax(-1), _randn(3, 8, 4, seed=7).softmax(-1)
    losses, terms = iic_loss(p_1, p_2)
    assert losses.shape == (3,) and terms["mutual_information"].shape == (3,)
    for head in range(3):
        torch.testing.assert_close(losses[head], iic_loss(p_1[head], p_2[head])[0])


@pytest.mark.parametrize("n, k, c", [(1, 1, 2), (6, 1, 3), (5, 4, 6)])
@pytest.mark.parametrize("weight", [0.0, 5.0])
def test_scan_matches_naive(n, k, c, weight):
    pa = _randn(n, c, seed=4).softmax(-1)
    pn = _randn(n, k, c, seed=5).softmax(-1)
    loss, terms = scan_loss(pa, pn, entropy_weight=weight)
    expected = naive_scan(pa.tolist(), pn.tolist(), weight)
    torch.testing.assert_close(loss, torch.tensor(expected, dtype=torch.float64))
    assert set(terms) == {"consistency", "entropy"}
    if k == 1:
        torch.testing.assert_close(scan_loss(pa, pn[:, 0], entropy_weight=weight)[0], loss)


@pytest.mark.parametrize("n, c", [(1, 1), (4, 3), (8, 5), (3, 7)])
@pytest.mark.parametrize("row_tau, col_tau", [(0.1, 0.05), (1.0, 0.5), (2.0, 0.1)])
def test_self_classifier_matches_naive(n, c, row_tau, col_tau):
    z1, z2 = _randn(n, c, seed=6), _randn(n, c, seed=7)
    loss, terms = self_classifier_loss(z1, z2, row_temperature=row_tau, column_temperature=col_tau)
    expected = naive_self_classifier(z1.tolist(), z2.tolist(), row_tau, col_tau)
    torch.testing.assert_close(loss, torch.tensor(expected, dtype=torch.float64))
    torch.testing.assert_close(loss, (terms["l12"] + terms["l21"]) / 2)
    l12 = self_classifier_loss(z1, z1, row_temperature=row_tau, column_temperature=col_tau)
    torch.testing.assert_close(l12[1]["l12"], l12[1]["l21"])


@pytest.mark.parametrize("n, c", [(1, 2), (5, 3), (9, 6)])
def test_iic_matches_naive(n, c):
    p1, p2 = _randn(n, c, seed=8).softmax(-1), _randn(n, c, seed=9).softmax(-1)
    loss, terms = iic_loss(p1, p2)
    expected = naive_iic(p1.tolist(), p2.tolist())
    torch.testing.assert_close(loss, torch.tensor(-expected, dtype=torch.float64))
    torch.testing.assert_close(terms["mutual_information"], -loss.detach())


def test_iic_perfect_assignment_reaches_log_c():
    p = torch.eye(4, dtype=torch.float64).repeat(3, 1)
    mi = iic_loss(p, p)[1]["mutual_information"]
    # The 12 zero entries, clamped to eps, shift it by about 12 eps log eps.
    expected = torch.tensor(math.log(4), dtype=torch.float64)
    torch.testing.assert_close(mi, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("n, d", [(1, 3), (4, 2), (7, 5)])
@pytest.mark.parametrize("tau", [0.05, 0.5, 2.0])
def test_consistency_matches_naive(n, d, tau):
    v, v_view = _randn(n, d, seed=10), _randn(n, d, seed=11)
    loss, terms = consistency_preserving_loss(v, v_view, temperature=tau)
    expected = naive_consistency(v.tolist(), v_view.tolist(), tau)
    torch.testing.assert_close(loss, torch.tensor(expected, dtype=torch.float64))
    torch.testing.assert_close(loss, terms["negative"] + terms["positive"])
    # The embeddings are normalised inside: their scale does not matter.
    torch.testing.assert_close(consistency_preserving_loss(3 * v, 0.5 * v_view, tau)[0], loss)


@pytest.mark.parametrize("n, d", [(2, 3), (6, 4), (9, 2)])
@pytest.mark.parametrize("temperature", [0.1, 1.0, 10.0])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_snnl_matches_naive(n, d, temperature, metric):
    h = _randn(n, d, seed=12)
    mask = torch.rand(n, n, generator=torch.Generator().manual_seed(13)) < 0.4
    mask[0] = False
    mask[0, 1] = True
    loss, terms = soft_nearest_neighbor_loss(h, mask, temperature=temperature, distance=metric)
    expected = naive_snnl(h.tolist(), mask.tolist(), temperature, metric)
    torch.testing.assert_close(loss, torch.tensor(expected, dtype=torch.float64))
    off_diagonal = mask & ~torch.eye(n, dtype=torch.bool)
    assert terms["n_anchors"] == off_diagonal.any(dim=1).sum()


# ------------------------------------------------------------- invariances
def _permuted(*tensors, seed=0):
    perm = torch.randperm(tensors[0].shape[-1], generator=torch.Generator().manual_seed(seed))
    return [t[..., perm] for t in tensors]


@pytest.mark.parametrize(
    "loss_fn, make_inputs",
    [
        (
            minmax_loss,
            lambda: (
                _randn(5, 4).softmax(-1),
                _randn(5, 2, 4, seed=1).softmax(-1),
                _randn(5, 3, 4, seed=2).softmax(-1),
            ),
        ),
        (scan_loss, lambda: (_randn(5, 4).softmax(-1), _randn(5, 3, 4, seed=1).softmax(-1))),
        (self_classifier_loss, lambda: (_randn(6, 4), _randn(6, 4, seed=1))),
        (iic_loss, lambda: (_randn(6, 4).softmax(-1), _randn(6, 4, seed=1).softmax(-1))),
    ],
)
def test_class_permutation_invariance(loss_fn, make_inputs):
    inputs = make_inputs()
    torch.testing.assert_close(loss_fn(*_permuted(*inputs, seed=3))[0], loss_fn(*inputs)[0])


def test_sample_permutation_invariance():
    perm = torch.randperm(7, generator=torch.Generator().manual_seed(0))
    v, v_view = _randn(7, 3), _randn(7, 3, seed=1)
    torch.testing.assert_close(
        consistency_preserving_loss(v[perm], v_view[perm])[0],
        consistency_preserving_loss(v, v_view)[0],
    )
    mask = torch.rand(7, 7, generator=torch.Generator().manual_seed(2)) < 0.3
    torch.testing.assert_close(
        soft_nearest_neighbor_loss(v[perm], mask[perm][:, perm])[0],
        soft_nearest_neighbor_loss(v, mask)[0],
    )


# ------------------------------------------------------ extreme magnitudes
@pytest.mark.parametrize("scale", SCALES)
def test_probability_losses_finite_at_extreme_logits(scale):
    cases = [
        (minmax_loss, lambda pa, pn, pf: (pa, pn[:, None], pf[:, None]), True),
        (scan_loss, lambda pa, pn, pf: (pa, pn), True),
        (iic_loss, lambda pa, pn, pf: (pa, pn), True),
        (self_classifier_loss, lambda za, zn, zf: (za, zn), False),
        (consistency_preserving_loss, lambda za, zn, zf: (za, zn), False),
    ]
    for loss_fn, make_inputs, on_probabilities in cases:
        logits = [_randn(6, 5, seed=s, scale=scale, dtype=torch.float32) for s in range(3)]
        inputs = [z.softmax(-1) for z in logits] if on_probabilities else logits
        loss, terms = loss_fn(*make_inputs(*inputs))
        _assert_finite_backward(loss, *logits[:2])
        assert all(torch.isfinite(t) for t in terms.values())


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("temperature", [0.01, 0.1, 1.0, 10.0, 100.0])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_snnl_finite_at_extreme_scales(scale, temperature, metric):
    h = _randn(8, 4, scale=scale, dtype=torch.float32)
    mask = torch.rand(8, 8, generator=torch.Generator().manual_seed(1)) < 0.3
    temp = torch.tensor(temperature, requires_grad=True)
    loss, _ = soft_nearest_neighbor_loss(h, mask, temperature=temp, distance=metric)
    _assert_finite_backward(loss, h, temp)


def test_snnl_learned_temperature_gets_gradient():
    h = _randn(6, 3)
    mask = torch.eye(6, dtype=torch.bool).roll(1, dims=1)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    soft_nearest_neighbor_loss(h, mask, temperature=log_t.exp())[0].backward()
    assert log_t.grad is not None and log_t.grad != 0


@pytest.mark.parametrize("n", [1, 4])
def test_snnl_without_positives_is_zero_with_grad(n):
    h = _randn(n, 3)
    mask = torch.eye(n, dtype=torch.bool)
    loss, terms = soft_nearest_neighbor_loss(h, mask)
    assert loss.requires_grad and loss.item() == 0 and terms["n_anchors"] == 0
    loss.backward()
    assert torch.equal(h.grad, torch.zeros_like(h))


# ------------------------------------------------------------ properties
sizes = st.integers(min_value=1, max_value=8)
log_scales = st.floats(min_value=-3, max_value=3)
seeds = st.integers(min_value=0, max_value=2**16)


@PROPERTY
@given(n=sizes, c=sizes, k=st.integers(1, 3), log_scale=log_scales, seed=seeds)
def test_minmax_scan_bounded_and_permutation_invariant(n, c, k, log_scale, seed):
    pa = _randn(n, c, seed=seed, scale=10**log_scale).softmax(-1)
    pn = _randn(n, k, c, seed=seed + 1, scale=10**log_scale).softmax(-1)
    _, terms = minmax_loss(pa, pn, pn.flip(0))
    for name in ("neighbor", "far"):
        assert -1e-9 <= terms[name] <= 1 + 1e-9
    assert -1e-9 <= terms["entropy"] <= math.log(c) + 1e-9
    loss, terms = scan_loss(pa, pn)
    assert terms["consistency"] >= -1e-9 and torch.isfinite(loss)
    torch.testing.assert_close(scan_loss(*_permuted(pa, pn, seed=seed))[0], loss)


@PROPERTY
@given(n=sizes, c=sizes, log_scale=log_scales, seed=seeds)
def test_iic_mutual_information_bounded(n, c, log_scale, seed):
    p1 = _randn(n, c, seed=seed, scale=10**log_scale).softmax(-1)
    p2 = _randn(n, c, seed=seed + 1, scale=10**log_scale).softmax(-1)
    loss, terms = iic_loss(p1, p2)
    assert -1e-6 <= terms["mutual_information"] <= math.log(c) + 1e-6
    torch.testing.assert_close(iic_loss(p2, p1)[0], loss)
    torch.testing.assert_close(iic_loss(*_permuted(p1, p2, seed=seed))[0], loss)


@PROPERTY
@given(n=sizes, c=sizes, log_scale=log_scales, seed=seeds)
def test_self_classifier_finite_and_permutation_invariant(n, c, log_scale, seed):
    z1 = _randn(n, c, seed=seed, scale=10**log_scale, dtype=torch.float32)
    z2 = _randn(n, c, seed=seed + 1, scale=10**log_scale, dtype=torch.float32)
    loss, _ = self_classifier_loss(z1, z2)
    torch.testing.assert_close(self_classifier_loss(*_permuted(z1, z2, seed=seed))[0], loss)
    _assert_finite_backward(loss, z1, z2)


@PROPERTY
@given(n=sizes, log_scale=log_scales, seed=seeds, metric=st.sampled_from(["cosine", "euclidean"]))
def test_snnl_nonnegative_and_finite(n, log_scale, seed, metric):
    h = _randn(n, 3, seed=seed, scale=10**log_scale, dtype=torch.float32)
    mask = torch.rand(n, n, generator=torch.Generator().manual_seed(seed)) < 0.5
    loss, _ = soft_nearest_neighbor_loss(h, mask, distance=metric)
    assert loss >= 0
    _assert_finite_backward(loss, h)


@PROPERTY
@given(n=sizes, log_scale=log_scales, seed=seeds)
def test_consistency_bounded_terms(n, log_scale, seed):
    v = _randn(n, 4, seed=seed, scale=10**log_scale, dtype=torch.float32)
    v_view = v + _randn(n, 4, seed=seed + 1, dtype=torch.float32)
    loss, terms = consistency_preserving_loss(v, v_view)
    # p_i^j <= 1/2 off the diagonal, so each of the n - 1 terms is at most log 2.
    assert 0 <= terms["negative"] <= (n - 1) * math.log(2) + 1e-5
    assert terms["positive"] >= 0
    _assert_finite_backward(loss, v)


# ------------------------------------------------------------- validation
ALL_POSITIVE = torch.ones(4, 4, dtype=torch.bool)


@pytest.mark.parametrize(
    "call",
    [
        lambda p, z: minmax_loss(p, p[:, None], p[:, None], entropy_weight=-1),
        lambda p, z: minmax_loss(p, p[:, None], p[:, None], eps=0),
        lambda p, z: minmax_loss(p, p[:, None], p[:, None], far_weight=-1),
        lambda p, z: minmax_loss(p, p[:, None], p[:3, None]),
        lambda p, z: minmax_loss(p, p, p[:, None]),
        lambda p, z: scan_loss(p, p[:, :2]),
        lambda p, z: scan_loss(p, p, entropy_weight=float("nan")),
        lambda p, z: self_classifier_loss(z, z, row_temperature=0),
        lambda p, z: self_classifier_loss(z, z, column_temperature=-0.1),
        lambda p, z: self_classifier_loss(z, z[:3]),
        lambda p, z: iic_loss(p, p[:, :2]),
        lambda p, z: iic_loss(p[0], p[0]),
        lambda p, z: consistency_preserving_loss(z, z, temperature=0),
        lambda p, z: consistency_preserving_loss(z, z[:, :2]),
        lambda p, z: soft_nearest_neighbor_loss(z, ALL_POSITIVE, temperature=0),
        lambda p, z: soft_nearest_neighbor_loss(z, ALL_POSITIVE, distance="l1"),
        lambda p, z: soft_nearest_neighbor_loss(z, torch.ones(4, 4)),
        lambda p, z: soft_nearest_neighbor_loss(z, ALL_POSITIVE[:3, :3]),
        lambda p, z: soft_nearest_neighbor_loss(z, ALL_POSITIVE, temperature=torch.ones(2)),
    ],
)
def test_bad_arguments_raise(call):
    z = _randn(4, 3)
    with pytest.raises(ValueError):
        call(z.softmax(-1), z)
