"""
A pipeline: scaling, SNNL codes, then SCAN
==========================================

The estimators are ordinary scikit-learn estimators, so they chain in a
:class:`~sklearn.pipeline.Pipeline`: here the digits are standardised, compressed
to 10-D codes by :class:`~skssl.SNNLTransformer` (unsupervised: it ignores ``y``),
and clustered by :class:`~skssl.SCANClusterer`, which mines its neighbours in the
codes. The same scaling followed by :class:`~sklearn.cluster.KMeans` is the
baseline.
"""

# %%
# Build and fit the pipelines
# ---------------------------
# ``fit_predict`` runs every step on ``X`` alone; ``y`` is only used to score.
import matplotlib.pyplot as plt
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skssl import SCANClusterer, SNNLTransformer
from skssl.metrics import hungarian_accuracy_score
from skssl.plotting import MatchedConfusionMatrixDisplay

X, y = load_digits(return_X_y=True)

pipeline = make_pipeline(
    StandardScaler(),
    SNNLTransformer(n_components=10, random_state=0),
    SCANClusterer(n_clusters=10, random_state=0),
)
labels = pipeline.fit_predict(X)
baseline = make_pipeline(StandardScaler(), KMeans(n_clusters=10, n_init=10, random_state=0))
baseline_labels = baseline.fit_predict(X)

accuracy = hungarian_accuracy_score(y, labels)
baseline_accuracy = hungarian_accuracy_score(y, baseline_labels)
print(f"StandardScaler + SNNLTransformer + SCANClusterer: {accuracy:.3f}")
print(f"StandardScaler + KMeans:                          {baseline_accuracy:.3f}")

# %%
# The fitted pipeline predicts new samples
# ----------------------------------------
# ``predict`` sends samples through the fitted scaler and SNNL encoder to SCAN's
# network; parameters of every step stay reachable for ``GridSearchCV`` under
# names such as ``snnltransformer__n_components`` or ``scanclusterer__n_neighbors``.
print("predicted clusters of the first ten digits:", pipeline.predict(X[:10]))
print("their true digits:                          ", y[:10])

# %%
# Matched confusion matrix of the pipeline
# ----------------------------------------
fig, ax = plt.subplots(figsize=(6.5, 5))
MatchedConfusionMatrixDisplay.from_predictions(y, labels, ax=ax)
fig.tight_layout()
plt.show()
