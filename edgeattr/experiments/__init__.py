"""Datasets, models, training and the paper's experiments.

Each experiment of ``edgeattr reproduce <name>`` is a module listed in
:data:`EXPERIMENTS` that defines ``add_arguments(parser)`` (its command-line
flags, with defaults sized for a 2-core CPU and flags for the paper's sizes)
and ``run(args) -> dict`` (writes CSV/JSON and PNG files into ``args.out`` and
returns the headline numbers).
"""

from typing import Dict

#: ``edgeattr reproduce`` name -> module implementing the experiment.
EXPERIMENTS: Dict[str, str] = {
    "negative-evidence": "edgeattr.experiments.negative_evidence",
    "infection": "edgeattr.experiments.infection",
    "input-level": "edgeattr.experiments.input_level",
    "layerwise": "edgeattr.experiments.layerwise",
    "sign-flips": "edgeattr.experiments.sign_flips",
    "ground-truth": "edgeattr.experiments.ground_truth_eval",
}
