"""Benchmarks of crmsync and its emulators; run by hand, never part of the test suite."""
