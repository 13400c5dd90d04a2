"""Physics validation: compare reconstructions (truth, target, PF, PF+PUPPI, MLPF) on a dataset."""
