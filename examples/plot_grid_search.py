"""
Tuning entropy_weight and temperature with GridSearchCV
=======================================================

Every skssl hyperparameter is a constructor parameter, so
:class:`~sklearn.model_selection.GridSearchCV` tunes it like any other. The
estimators ignore ``y`` in ``fit``; with :data:`skssl.metrics.hungarian_scorer`
the labels are only used to score the predictions on each held-out fold, so the
search measures unsupervised quality without leaking labels into training.

Which parameters matter depends on the objective of
:class:`~skssl.SelfSupervisedClassifier`: ``entropy_weight`` is read by
``"minmax"`` and ``"iic"``, ``temperature`` by ``"self_classifier"`` and
``"iic"``. The IIC objective reads both, so it is the one tuned here.

To keep the example under a minute on one CPU core, each fit trains a single
network (``n_init=1``) for 30 epochs; the defaults train longer.
"""

# %%
# The search
# ----------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, KFold

from skssl import SelfSupervisedClassifier
from skssl.metrics import hungarian_scorer

X, y = load_digits(return_X_y=True)

model = SelfSupervisedClassifier(
    n_clusters=10, objective="iic", n_init=1, max_epochs=30, random_state=0
)
grid = {"entropy_weight": [0.5, 2.0, 5.0], "temperature": [0.05, 0.1, 0.3]}
search = GridSearchCV(
    model,
    grid,
    scoring=hungarian_scorer,
    cv=KFold(n_splits=3, shuffle=True, random_state=0),
).fit(X, y)

print("best parameters:", search.best_params_)
print(f"best mean held-out accuracy: {search.best_score_:.3f}")

# %%
# Mean held-out accuracy over the grid
# ------------------------------------
# ``entropy_weight`` (lambda) rewards using all classes equally; ``temperature``
# sets how peaked the normalised head's softmax is. The two interact: the best
# temperature at one entropy weight need not be the best at another, so tune them
# together and read the whole grid, not only the best cell.
scores = search.cv_results_["mean_test_score"].reshape(
    len(grid["entropy_weight"]), len(grid["temperature"])
)
fig, ax = plt.subplots(figsize=(5.5, 4))
image = ax.imshow(scores, cmap="viridis")
fig.colorbar(image, ax=ax, label="mean held-out Hungarian accuracy")
middle = (scores.min() + scores.max()) / 2
for (row, column), value in np.ndenumerate(scores):
    color = "black" if value > middle else "white"  # readable on viridis' light end
    ax.text(column, row, f"{value:.3f}", ha="center", va="center", color=color)
ax.set_xticks(range(len(grid["temperature"])), grid["temperature"])
ax.set_yticks(range(len(grid["entropy_weight"])), grid["entropy_weight"])
ax.set_xlabel("temperature")
ax.set_ylabel("entropy_weight")
ax.set_title("IIC on digits, 3-fold GridSearchCV")
fig.tight_layout()
plt.show()
