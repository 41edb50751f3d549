"""Reviewing a production: continuity and framing checks, the storyboard."""
