"""The one error an insight raises for a user's mistake."""

from __future__ import annotations


class InsightsError(ValueError):
    """A question that cannot be answered as asked (unknown key, bad date, empty range...).

    ``str()`` is one line for a human; the CLI prints it, the web page answers 400 with it.
    """
