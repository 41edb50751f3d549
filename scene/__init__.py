"""FilmCrew scene."""
