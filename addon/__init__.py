"""FilmCrew addon."""
