"""Sphinx configuration of the skssl documentation.

Build (from the repository root)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The gallery in ``examples/`` is executed during the build.
"""

import os
import re
import sys
from pathlib import Path

# The examples train Torch networks: one thread each keeps the build light on shared
# machines and matches how the examples were timed. Set before numpy and torch load.
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # a checkout builds its own docs, installed or not

import torch  # noqa: E402

import skssl  # noqa: E402

torch.set_num_threads(1)

project = "skssl"
author = "skssl developers"
copyright = "2026, skssl developers"
version = release = skssl.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb"]

# API reference: one page per object, generated from the docstrings.
autosummary_generate = True
# Inherited members are listed, except scikit-learn's generic plumbing (get_params,
# set_params, metadata routing, set_output), whose docstrings point into
# scikit-learn's own documentation.
autodoc_default_options = {
    "members": True,
    "inherited-members": "BaseEstimator,_MetadataRequester,_SetOutputMixin",
}
autodoc_typehints = "none"

# numpydoc renders the docstrings; autodoc lists the members, so numpydoc does not.
# Validation stays off: the docstrings are checked by the doctests.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()

# Markdown is only included (the benchmark tables); pages are reStructuredText.
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # execute every example
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "plot_gallery": "True",
    # Links from the API pages to the examples that use each object.
    "doc_module": ("skssl",),
    "backreferences_dir": "generated/backreferences",
}

html_theme = "pydata_sphinx_theme"
html_title = f"skssl {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path = []


# A fitted attribute's name inside a shape, as in ``of shape (n_samples, n_neighbors_)``,
# is a hyperlink reference to docutils when it is not quoted (``name_``), and the
# build fails on the unknown target. Quote such names, as the docstrings that write
# ``(`n_features_in_`,)`` do by hand; names already quoted are left alone.
_SHAPE = re.compile(r"of shape \([^)]*\)")
_BARE_FITTED_NAME = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?=[,)\s])")


def _quote_fitted_names_in_shapes(app, what, name, obj, options, lines):
    for index, line in enumerate(lines):
        lines[index] = _SHAPE.sub(
            lambda shape: _BARE_FITTED_NAME.sub(r"`\1`", shape.group(0)), line
        )


def setup(app):
    app.connect("autodoc-process-docstring", _quote_fitted_names_in_shapes)
