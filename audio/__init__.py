"""Dialogue audio: espeak-ng voices per character, line lengths for the plan, the mixed track."""
