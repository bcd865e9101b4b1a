r"""The benchmark suite behind ``make bench`` and ``edgeattr bench``.

Each case measures edgeattr and a baseline side by side in one process
(medians of repeated runs) and reports ratios, not absolute times, with the
goal of the case and whether it is met. See :mod:`edgeattr.benchmarks.run`.
"""
