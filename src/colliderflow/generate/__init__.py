"""Event generation: Pythia 8 hard processes, particle guns and pileup overlay."""
