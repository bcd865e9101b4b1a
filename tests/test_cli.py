"""The command line builds only the chosen command, so each command's help needs only what that command needs."""

import subprocess
import sys

import pytest

from edgeattr.cli import main

WITHOUT_PYG = "import sys; sys.modules['torch_geometric'] = None; from edgeattr.cli import main; main({argv!r})"


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"], ["reproduce", "--help"]])
def test_help_works_without_torch_geometric(argv):
    done = subprocess.run([sys.executable, "-c", WITHOUT_PYG.format(argv=argv)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "usage: edgeattr" in done.stdout


def test_importing_a_command_that_needs_torch_geometric_fails_only_when_chosen():
    done = subprocess.run([sys.executable, "-c", WITHOUT_PYG.format(argv=["explain", "--help"])], capture_output=True, text=True)
    assert done.returncode != 0 and "torch_geometric" in done.stderr


@pytest.mark.parametrize(
    "argv, flag",
    [(["explain", "--help"], "--dataset"), (["bench", "--help"], "--quick"), (["reproduce", "infection", "--help"], "--cache-dir")],
)
def test_the_chosen_command_has_its_flags(argv, flag, capsys):
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 0
    assert flag in capsys.readouterr().out


def test_reproduce_lists_every_experiment_with_its_summary(capsys):
    from edgeattr.experiments import EXPERIMENTS

    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    listing = capsys.readouterr().out
    assert all(name in listing for name in EXPERIMENTS)
