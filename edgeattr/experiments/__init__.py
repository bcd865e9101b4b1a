"""Datasets, models, training and the paper's experiments."""
