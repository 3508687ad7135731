"""What a model file brings: its args, lazily read weights, tokenizer and chat template, read
from a GGUF file or a Hugging Face directory into one `LoadedModel`.
"""
