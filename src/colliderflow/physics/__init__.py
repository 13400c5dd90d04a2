"""Physics objects and metrics shared by every reconstruction: jets, MET, matching."""
