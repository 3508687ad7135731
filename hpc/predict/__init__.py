"""Start-time and runtime predictions with uncertainty, their explanations, and alternatives."""
