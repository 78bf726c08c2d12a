"""The reliability campaign's machinery: seeds, mutations, surfaces, classification, runner.

``benchmarks/fuzz.py`` is the command; ``tests/test_fuzz_slice.py`` runs a fixed-seed slice.
See docs/reliability.md for what counts as a bug and the published figures.
"""
