"""Benchmarks and shared test corpora for the llmrix SDK."""
