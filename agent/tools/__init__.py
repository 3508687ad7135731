"""The agent's tools: typed functions made model tools (`toolbox`), the world they read."""
