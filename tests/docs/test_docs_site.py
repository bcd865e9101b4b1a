"""The documentation site builds with warnings as errors and documents every public name."""

import pathlib
import subprocess
import sys

import edgeattr
from edgeattr.adapters import FRAMEWORK_NAMES

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"


def test_the_site_builds_without_warnings_and_documents_every_public_name(tmp_path):
    # A separate process: autodoc may import the DGL modules against a stand-in dgl package.
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    reference = (tmp_path / "html" / "api.html").read_text()
    public = sorted(set(edgeattr.__all__) | set(FRAMEWORK_NAMES))
    undocumented = [name for name in public if f'id="edgeattr.{name}"' not in reference]
    assert not undocumented, f"add these public names to docs/api.rst: {undocumented}"
    pages = {path.relative_to(DOCS).with_suffix(".html") for path in DOCS.rglob("*.md")}
    assert all((tmp_path / "html" / page).is_file() for page in pages)
