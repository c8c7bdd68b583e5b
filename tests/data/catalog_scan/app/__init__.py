"""A sample application for ``catalog scan``: its send() calls are what the scanner must find."""
