"""Benchmark scripts (see bench/README.md); a package so type checkers name _common once."""
