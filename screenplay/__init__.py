"""FilmCrew screenplay."""
