"""FilmCrew staging."""
