"""Developer tools kept out of the product: benchmarks and screenshots (run from a checkout)."""
