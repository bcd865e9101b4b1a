"""edgeattr's test suite: one package per package of edgeattr, helpers in tests.support."""
