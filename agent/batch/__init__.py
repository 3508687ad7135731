"""Small job batches: seeded scenarios, schedules and objectives, the exact CP-SAT solver."""
