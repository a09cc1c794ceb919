"""LaTeX escaping shared by the table writers (evaluate) and the paper's numbers (paper)."""

from __future__ import annotations

_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text) -> str:
    """``text`` with LaTeX's special characters escaped, one character at a time (so an
    escape's own braces are never escaped again)."""
    return "".join(_LATEX.get(c, c) for c in str(text))
