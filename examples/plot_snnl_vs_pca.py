"""
SNNL codes against PCA on the digits
====================================

:class:`~skssl.SNNLTransformer` trains an autoencoder whose layers are shaped by
the soft nearest neighbour loss: each sample is pulled towards its mined nearest
neighbours and pushed away from the rest of the batch. Unsupervised by default, it
never sees ``y``. Here it compresses the 64 pixels of the digits to two numbers,
beside :class:`~sklearn.decomposition.PCA` with two components; the 2-D maps are
coloured by the true digit, and :class:`~sklearn.cluster.KMeans` is run on each.

The comparison of the default 10-D codes over several seeds is on the
:doc:`/benchmarks` page (from ``benchmarks/results/snnl_codes.md``).
"""

# %%
# Three 2-D representations
# -------------------------
# The loss compares codes by cosine distance by default. In two dimensions the
# cosine sees only the angle of a code, so classes spread along rays from the
# origin, which suits KMeans' Euclidean distance poorly; ``distance="euclidean"``
# compares the codes as KMeans will. Both are fitted here.
import matplotlib.pyplot as plt
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from skssl import SNNLTransformer
from skssl.metrics import hungarian_accuracy_score
from skssl.plotting import plot_embedding

X, y = load_digits(return_X_y=True)

maps = {
    "SNNL, euclidean": SNNLTransformer(
        n_components=2, distance="euclidean", random_state=0
    ).fit_transform(X),
    "SNNL, cosine (default)": SNNLTransformer(n_components=2, random_state=0).fit_transform(X),
    "PCA": PCA(n_components=2, random_state=0).fit_transform(X),
}

# %%
# KMeans on each representation
# -----------------------------
# The Hungarian-matched accuracy of KMeans tells how well the ten digits separate
# into compact groups in each 2-D map.
accuracy = {}
for name, Z in maps.items():
    labels = KMeans(n_clusters=10, n_init=10, random_state=0).fit_predict(Z)
    accuracy[name] = hungarian_accuracy_score(y, labels)
    print(f"KMeans on {name}: {accuracy[name]:.3f}")

# %%
# The maps, coloured by the true digit
# ------------------------------------
fig, axes = plt.subplots(1, 3, figsize=(15, 5))
for ax, (name, Z) in zip(axes, maps.items()):
    plot_embedding(Z, y, ax=ax, title=f"{name}\nKMeans accuracy {accuracy[name]:.3f}")
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
plt.show()
