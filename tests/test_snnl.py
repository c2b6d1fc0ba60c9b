"""Tests of SNNLTransformer: positives, no label leak, numerics, API and learning on digits."""

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, make_blobs
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skssl import SNNLTransformer
from skssl._losses import soft_nearest_neighbor_loss
from skssl._snnl import _PartnerSampler, auto_hidden_layer_sizes, input_scaler, positive_mask
from skssl.metrics import hungarian_accuracy_score

FAST = dict(max_iter=3, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=120, centers=3, n_features=6, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


# ------------------------------------------------------------- positives and batches
def test_positive_mask_neighbours_symmetric_and_duplicates():
    neighbors = torch.tensor([[1], [2], [0], [0]])
    rows = torch.tensor([0, 1, 3, 0])
    mask = positive_mask(rows, neighbors)
    expected = torch.tensor(
        [
            [1, 1, 1, 1],  # 0 -> 1 is a neighbour, 3 -> 0 (symmetrised), 0 again (duplicate)
            [1, 1, 0, 1],
            [1, 0, 1, 1],
            [1, 1, 1, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(mask, expected)


def test_positive_mask_labels_override_neighbours_between_labelled_rows():
    neighbors = torch.tensor([[1], [0], [0], [0]])
    labels = torch.tensor([0, 1, 0, -1])
    mask = positive_mask(torch.arange(4), neighbors, labels)
    # 0 and 1 are neighbours with different known labels: not positives.
    assert not mask[0, 1] and not mask[1, 0]
    # 0 and 2 share a label though not neighbours (2 -> 0 is, but labels decide anyway).
    assert mask[0, 2] and mask[2, 0]
    # 3 is unlabelled: the neighbour rule applies (3 -> 0).
    assert mask[3, 0] and mask[0, 3] and not mask[3, 1]


@pytest.mark.parametrize("seed", range(5))
def test_positive_mask_matches_naive_loop(seed):
    generator = torch.Generator().manual_seed(seed)
    n, k = 12, 3
    neighbors = torch.stack([torch.randperm(n, generator=generator)[:k] for _ in range(n)])
    labels = torch.randint(-1, 3, (n,), generator=generator)
    rows = torch.randint(n, (16,), generator=generator)  # with duplicates
    mask = positive_mask(rows, neighbors, labels)
    for a, i in enumerate(rows.tolist()):
        for b, j in enumerate(rows.tolist()):
            if labels[i] >= 0 and labels[j] >= 0:
                expected = bool(labels[i] == labels[j])
            else:
                expected = i == j or j in neighbors[i].tolist() or i in neighbors[j].tolist()
            assert bool(mask[a, b]) == expected


def test_partners_are_neighbours_or_same_label():
    generator = torch.Generator().manual_seed(0)
    neighbors = torch.tensor([[1, 2], [0, 2], [0, 1], [4, 5], [3, 5], [3, 4]])
    labels = torch.tensor([0, -1, 0, 1, -1, -1])
    sampler = _PartnerSampler(neighbors, labels, generator)
    index = torch.arange(6).repeat(20)
    partners = sampler(index)
    labelled = labels[index] >= 0
    assert torch.equal(labels[partners[labelled]], labels[index[labelled]])
    is_neighbour = (neighbors[index[~labelled]] == partners[~labelled, None]).any(dim=1)
    assert is_neighbour.all()


def test_auto_hidden_layer_sizes_scale_with_input():
    assert auto_hidden_layer_sizes(4) == (64, 64)
    assert auto_hidden_layer_sizes(64) == (128, 128)
    assert auto_hidden_layer_sizes(784) == (256, 256)


def test_input_scaler_floors_the_scale_at_the_median_std():
    X = np.column_stack([np.full(8, 3.0), np.arange(8.0), 10 * np.arange(8.0), np.arange(8.0) % 2])
    scaler = input_scaler(X)
    std = X.std(axis=0)
    # The median over the varying features is the raw 0..7 column's std.
    np.testing.assert_allclose(scaler.scale.numpy(), [std[1], std[1], std[2], std[1]], rtol=1e-6)
    np.testing.assert_allclose(scaler.mean.numpy(), X.mean(axis=0), rtol=1e-6)
    assert input_scaler(np.ones((4, 2))).scale.tolist() == [1.0, 1.0]


# ------------------------------------------------------------- labels: no leak, opt-in
def test_no_label_leak_by_default(blobs):
    X, y = blobs
    without = SNNLTransformer(**FAST).fit_transform(X)
    with_y = SNNLTransformer(**FAST).fit_transform(X, y)
    assert np.array_equal(without, with_y)


def test_supervised_uses_labels_and_minus_one_means_unlabelled(blobs):
    X, y = blobs
    # The "auto" temperature and noise differ per mode: pin them to compare the modes.
    same = dict(temperature=2.0, input_noise=0.0, **FAST)
    unsupervised = SNNLTransformer(**same).fit_transform(X)
    with pytest.warns(UserWarning, match="every row of y is -1"):
        all_unlabelled = SNNLTransformer(supervised=True, **same).fit_transform(
            X, np.full(len(y), -1)
        )
    supervised = SNNLTransformer(supervised=True, **same).fit_transform(X, y)
    assert np.array_equal(unsupervised, all_unlabelled)
    assert not np.allclose(unsupervised, supervised)
    # With nothing labelled the "auto" settings are the unsupervised ones too.
    with pytest.warns(UserWarning, match="every row of y is -1"):
        fallback = SNNLTransformer(supervised=True, **FAST).fit(X, np.full(len(y), -1))
    default = SNNLTransformer(**FAST).fit(X)
    assert (fallback.temperature_, fallback.input_noise_) == (0.5, 0.0)
    assert np.array_equal(fallback.transform(X), default.transform(X))


@pytest.mark.parametrize("supervised, temperature, noise", [(False, 0.5, 0.0), (True, 0.1, 0.75)])
def test_auto_temperature_and_noise_follow_the_mode(blobs, supervised, temperature, noise):
    X, y = blobs
    model = SNNLTransformer(supervised=supervised, **FAST).fit(X, y)
    assert model.temperature_ == temperature and model.input_noise_ == noise
    assert [record["temperature"] for record in model.history_] == [temperature] * 3
    params = model.get_params()
    assert params["temperature"] == "auto" and params["input_noise"] == "auto"


def test_input_noise_changes_training_and_stays_seeded(blobs):
    X, y = blobs
    clean = SNNLTransformer(supervised=True, input_noise=0.0, **FAST).fit_transform(X, y)
    noisy = SNNLTransformer(supervised=True, input_noise=0.5, **FAST)
    first = noisy.fit_transform(X, y)
    assert not np.allclose(clean, first)
    assert np.array_equal(first, noisy.fit_transform(X, y))
    assert noisy.input_noise_ == 0.5


def test_supervised_needs_y(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="needs labels y"):
        SNNLTransformer(supervised=True, **FAST).fit(X)


# ------------------------------------------------------------- numerics
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_loss_matches_plain_logsumexp_when_terms_underflow(metric):
    """Far rows (logits below exp's range) keep the loss and gradients of the -inf form."""
    generator = torch.Generator().manual_seed(0)
    h = (30 * torch.randn(64, 5, generator=generator, dtype=torch.float64)).requires_grad_()
    mask = torch.rand(64, 64, generator=generator) < 0.2
    temperature = 0.01 if metric == "cosine" else 1.0
    loss = soft_nearest_neighbor_loss(h, mask, temperature, metric)[0]
    (grad,) = torch.autograd.grad(loss, h)

    h_ref = h.detach().clone().requires_grad_()
    if metric == "cosine":
        unit = torch.nn.functional.normalize(h_ref, dim=1)
        dist = 1 - unit @ unit.T
    else:
        dist = torch.cdist(h_ref, h_ref) ** 2
    diagonal = torch.eye(64, dtype=torch.bool)
    logits = (-dist / temperature).masked_fill(diagonal, -torch.inf)
    positive = mask & ~diagonal
    anchors = positive.any(dim=1)
    per_row = logits.logsumexp(1) - logits.masked_fill(~positive, -torch.inf).logsumexp(1)
    reference = per_row[anchors].mean()
    (grad_ref,) = torch.autograd.grad(reference, h_ref)
    assert (logits[~diagonal] - logits.amax(1, keepdim=True).expand(64, 64)[~diagonal]).min() < -100
    torch.testing.assert_close(loss, reference)
    torch.testing.assert_close(grad, grad_ref)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_loss_over_the_first_rows_as_anchors_matches_the_square_mask(metric):
    """A (n_anchors, B) mask gives the square loss restricted to those anchors."""
    generator = torch.Generator().manual_seed(0)
    h = torch.randn(40, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    mask = torch.rand(40, 40, generator=generator) < 0.2
    square = mask.clone()
    square[16:] = False  # rows without a positive are no anchors
    expected = soft_nearest_neighbor_loss(h, square, 0.5, metric)[0]
    loss, terms = soft_nearest_neighbor_loss(h, mask[:16], 0.5, metric)
    torch.testing.assert_close(loss, expected)
    assert terms["n_anchors"] == mask[:16].fill_diagonal_(False).any(dim=1).sum()
    with pytest.raises(ValueError, match="more than h"):
        soft_nearest_neighbor_loss(h[:8], mask[:16, :8], 0.5, metric)


@pytest.mark.parametrize("scale", [1e-3, 1e3])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("temperature", [0.01, 100.0])
def test_finite_at_extreme_scales_and_temperatures(blobs, scale, metric, temperature):
    X, y = blobs
    model = SNNLTransformer(distance=metric, temperature=temperature, **FAST)
    codes = model.fit_transform(X * scale)
    assert np.isfinite(codes).all()
    assert np.isfinite(model.inverse_transform(codes)).all()
    assert all(np.isfinite(record["loss"]) for record in model.history_)


@pytest.mark.parametrize("schedule", ["fixed", "annealed", "learned"])
def test_temperature_schedules(blobs, schedule):
    X, _ = blobs
    model = SNNLTransformer(temperature=2.0, temperature_schedule=schedule, **FAST).fit(X)
    temperatures = [record["temperature"] for record in model.history_]
    assert np.isfinite(model.transform(X)).all()
    if schedule == "fixed":
        assert temperatures == [2.0] * 3
    elif schedule == "annealed":
        np.testing.assert_allclose(temperatures, [2.0 / (1 + e) ** 0.55 for e in range(3)])
        assert model.temperature_ == pytest.approx(2.0 / 3**0.55)
    else:
        assert model.temperature_ != pytest.approx(2.0, rel=1e-6)
        assert model.temperature_ == pytest.approx(temperatures[-1], rel=0.1)


# ------------------------------------------------------------- API
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_dtype_and_inverse_shape(blobs, dtype):
    X, _ = blobs
    model = SNNLTransformer(n_components=2, **FAST).fit(X.astype(dtype))
    codes = model.transform(X.astype(dtype))
    assert codes.dtype == dtype and codes.shape == (len(X), 2)
    decoded = model.inverse_transform(codes)
    assert decoded.dtype == dtype and decoded.shape == X.shape
    with pytest.raises(ValueError, match="n_components=2"):
        model.inverse_transform(np.zeros((3, 5)))


def test_inverse_transform_returns_original_scale(blobs):
    X, _ = blobs
    X = X * 1e3 + 5e3
    model = SNNLTransformer(n_components=4, max_iter=60, random_state=0, device="cpu").fit(X)
    decoded = model.inverse_transform(model.transform(X))
    relative_error = ((decoded - X) ** 2).mean() / X.var(axis=0).mean()
    assert relative_error < 0.2


def test_cosine_codes_have_unit_length(blobs):
    X, _ = blobs
    cosine = SNNLTransformer(n_components=3, **FAST).fit_transform(X)
    np.testing.assert_allclose(np.linalg.norm(cosine, axis=1), 1.0, rtol=1e-6)
    euclidean = SNNLTransformer(n_components=3, distance="euclidean", **FAST).fit_transform(X)
    assert not np.allclose(np.linalg.norm(euclidean, axis=1), 1.0)


def test_hidden_layer_sizes(blobs):
    X, _ = blobs
    linear = SNNLTransformer(hidden_layer_sizes=(), **FAST).fit(X)
    assert linear.hidden_layer_sizes_ == () and linear.transform(X).shape == (len(X), 10)
    with pytest.raises(ValueError, match="ints > 0"):
        SNNLTransformer(hidden_layer_sizes=(8, 0), **FAST).fit(X)


def test_pandas_output_and_feature_names(blobs):
    pd = pytest.importorskip("pandas")
    X, _ = blobs
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    model = SNNLTransformer(n_components=3, **FAST).set_output(transform="pandas")
    codes = model.fit_transform(frame)
    names = ["snnltransformer0", "snnltransformer1", "snnltransformer2"]
    assert list(codes.columns) == names
    assert list(model.get_feature_names_out()) == names
    assert list(model.feature_names_in_) == list(frame.columns)


def test_inside_pipeline_with_kmeans(blobs):
    X, _ = blobs
    kmeans = KMeans(3, n_init=2, random_state=0)
    pipe = make_pipeline(StandardScaler(), SNNLTransformer(**FAST), kmeans)
    labels = pipe.fit_predict(X)
    assert labels.shape == (len(X),) and set(labels) <= {0, 1, 2}


# ------------------------------------------------------------- learning on digits
def _kmeans_accuracy(X, y, seed=0):
    labels = KMeans(n_clusters=10, n_init=10, random_state=seed).fit_predict(X)
    return hungarian_accuracy_score(y, labels)


def test_unsupervised_codes_cluster_better_than_raw_and_standardised_input(digits):
    X, y = digits
    # The better baseline: the raw pixels (0.792); standardising them gives 0.589.
    baseline = max(_kmeans_accuracy(X, y), _kmeans_accuracy(StandardScaler().fit_transform(X), y))
    codes = [SNNLTransformer(random_state=seed, device="cpu").fit_transform(X) for seed in (0, 1)]
    accuracy = np.mean([_kmeans_accuracy(c, y, seed) for seed, c in enumerate(codes)])
    # Measured: 0.861 and 0.871 on the codes (seeds 0 and 1).
    assert baseline > 0.78
    assert accuracy > baseline + 0.04


def _knn_accuracy(train_codes, y_train, test_codes, y_test):
    return KNeighborsClassifier().fit(train_codes, y_train).score(test_codes, y_test)


def test_supervised_codes_beat_raw_input_for_knn_on_held_back_rows(digits):
    """Every training row labelled; the test rows are never seen in fit."""
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    baseline = max(
        _knn_accuracy(X_train, y_train, X_test, y_test),
        _knn_accuracy(scaler.transform(X_train), y_train, scaler.transform(X_test), y_test),
    )
    model = SNNLTransformer(supervised=True, random_state=0, device="cpu").fit(X_train, y_train)
    accuracy = _knn_accuracy(model.transform(X_train), y_train, model.transform(X_test), y_test)
    # Measured: 0.980 on the raw input (0.970 standardised), 0.989 on the codes (5 of
    # 540 rows); NeighborhoodComponentsAnalysis(10) scores 0.965.
    assert baseline > 0.975
    assert accuracy > baseline + 0.005


def test_partly_supervised_codes_beat_raw_input_for_knn_on_held_back_rows(digits):
    """15% of the training rows labelled, the rest -1; the test rows are never seen in fit."""
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    X_lab, X_unlab, y_lab, _ = train_test_split(
        X_train, y_train, train_size=0.15, random_state=0, stratify=y_train
    )
    scaler = StandardScaler().fit(X_train)
    baseline = max(
        _knn_accuracy(X_lab, y_lab, X_test, y_test),
        _knn_accuracy(scaler.transform(X_lab), y_lab, scaler.transform(X_test), y_test),
    )
    model = SNNLTransformer(supervised=True, random_state=0, device="cpu")
    model.fit(np.vstack([X_lab, X_unlab]), np.concatenate([y_lab, np.full(len(X_unlab), -1)]))
    accuracy = _knn_accuracy(model.transform(X_lab), y_lab, model.transform(X_test), y_test)
    # Measured: 0.917 on the raw input (0.889 standardised), 0.931 on the codes (8 of
    # 540 rows).
    assert baseline > 0.91
    assert accuracy > baseline + 0.007
