import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
# Numba's thread count is fixed once its pool starts: the benchmark scripts that the
# smoke test imports set it to 1 (as they do for their runs), so it is 1 from the start.
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
# scikit-learn's check_array_api_input runs only with SciPy's array API support on
# (it checks that NumPy inputs give the same results with dispatch enabled); without
# it the check skips itself. It must be set before SciPy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import torch  # noqa: E402

# Two Torch threads on two cores made the estimator checks 8x slower than one
# (98 s against 12 s); doctests and tests alike run on one.
torch.set_num_threads(1)
