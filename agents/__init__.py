"""FilmCrew agents."""
