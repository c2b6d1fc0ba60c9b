import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

# Two Torch threads on two cores made the estimator checks 8x slower than one
# (98 s against 12 s); doctests and tests alike run on one.
torch.set_num_threads(1)
