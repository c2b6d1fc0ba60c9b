"""scikit-learn's estimator checks over every public estimator: defaults and small settings."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skssl import SCANClusterer, SelfSupervisedClassifier, SNNLTransformer
from skssl._objectives import CLASSIFIER_OBJECTIVES

#: Small settings keep each check fast; the checks still fit real networks.
FAST = dict(max_iter=3, n_init=1, random_state=0, device="cpu")

DEFAULTS = [
    SelfSupervisedClassifier(),
    SCANClusterer(),
    SNNLTransformer(),
    SelfSupervisedClassifier(n_clusters="auto"),
    SCANClusterer(n_clusters="auto"),
]
SMALL = [
    *(SelfSupervisedClassifier(objective=objective, **FAST) for objective in CLASSIFIER_OBJECTIVES),
    SCANClusterer(max_iter=3, n_neighbors=5, random_state=0, device="cpu"),
    SNNLTransformer(max_iter=3, random_state=0, device="cpu"),
]


# Nothing is skipped or marked expected-to-fail, on the default constructors as on
# the small settings.
@parametrize_with_checks(DEFAULTS + SMALL)
def test_sklearn_compatible(estimator, check):
    check(estimator)
