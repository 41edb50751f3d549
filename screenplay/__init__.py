"""FilmCrew screenplay: read Fountain, typeset it as PDF or Final Draft."""

from .fountain import Element, Screenplay, load_screenplay, parse_fountain
from .pdf import write_fdx, write_pdf

__all__ = ["Element", "Screenplay", "load_screenplay", "parse_fountain", "write_fdx", "write_pdf"]
