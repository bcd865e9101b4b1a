"""Tests of the documentation: the site builds and its examples run."""
