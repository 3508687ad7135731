"""The local LLM server: a PyTorch engine behind an OpenAI-compatible API (see DESIGN.md)."""
