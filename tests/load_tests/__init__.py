"""Tests of load_tests/: the verifier on synthetic streams, and short Locust runs."""
