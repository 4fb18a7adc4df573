"""llmsim: a high-performance simulator of the OpenAI, Anthropic and Gemini HTTP APIs."""

__version__ = "0.1.0"
