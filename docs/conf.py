"""Sphinx configuration of edgeattr's documentation site (``make docs``)."""

import importlib.util

project = "edgeattr"
author = "edgeattr developers"
copyright = "2026, edgeattr developers"
release = version = "0.1.0"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# The pages are Markdown that also reads well on GitHub: $...$ math, heading anchors.
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# Docstrings follow Captum's Google style (Args: / Returns:).
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True  # Attributes: of NamedTuples render as fields, not as second descriptions
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
# The modern lane has no DGL (DGL 2.1.0 loads only with torch <= 2.2.1): its modules are
# documented from their source against a stand-in package.
autodoc_mock_imports = [] if importlib.util.find_spec("dgl") else ["dgl"]

html_theme = "alabaster"
html_title = "edgeattr"
html_theme_options = {"description": "Edge attributions for graph neural networks", "page_width": "1100px"}
