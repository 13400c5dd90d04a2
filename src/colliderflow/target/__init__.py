"""MLPF targets (reconstructable particles on their primary elements) and generator truth."""
