"""Render and refine on a studio farm: Flamenco job submission and status."""
