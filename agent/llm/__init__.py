"""The language model: the client (`client`), the default local server, prompt quoting."""
