"""Tests of the contract suite: it passes against the reference and fails against broken servers."""
