"""FilmCrew characters."""
