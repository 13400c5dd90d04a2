"""Parametric CMS-like detector simulation: tracking, material, calorimeters, clustering, muons."""
