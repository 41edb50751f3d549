"""FilmCrew render."""
