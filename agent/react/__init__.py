"""The ReAct loop (`loop`) and its scratchpad (`memory`)."""
