"""The agent's modes, one module each: `ask` (what-if), `advise` (policy), `dispatch`."""
