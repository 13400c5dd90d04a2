"""NanoAOD-like analysis objects: generator objects, PF+PUPPI reconstructed objects, ROOT/Parquet I/O.

``build`` runs the object building on a dataset and its PF candidates (the full-simulation
reference of FlashSim); ``schema`` lists the collections and fields; ``io`` reads and writes
NanoAOD-style ROOT TTrees (uproot ``mktree``) and Parquet.
"""
