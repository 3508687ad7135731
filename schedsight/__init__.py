"""schedsight composition root: settings and the command line; no domain logic lives here."""
