"""Small shared helpers: seeded random streams, atomic file writes."""
