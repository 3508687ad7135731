"""The reasoning agent: a guarded ReAct loop over the simulator (see DESIGN.md, agent/)."""
