"""The Gemini API (work in progress)."""


def routes(ctx):
    return []
