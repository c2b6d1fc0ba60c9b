"""scikit-learn's estimator checks over every public estimator, with small settings."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skssl import SCANClusterer, SelfSupervisedClassifier, SNNLTransformer
from skssl.objectives import OBJECTIVES

#: Small settings keep each check fast; the checks still fit real networks.
FAST = dict(max_epochs=3, n_init=1, random_state=0, device="cpu")

ESTIMATORS = [
    *(SelfSupervisedClassifier(objective=objective, **FAST) for objective in OBJECTIVES),
    SCANClusterer(max_epochs=3, n_heads=2, n_neighbors=5, random_state=0, device="cpu"),
    SNNLTransformer(max_epochs=3, random_state=0, device="cpu"),
]


# Nothing is skipped or marked expected-to-fail. The one skip pytest reports per
# estimator, check_array_api_input, is scikit-learn's own: it runs only with
# SCIPY_ARRAY_API=1 and only means something for estimators that accept array-API
# inputs, and these train Torch networks on NumPy copies.
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
