"""The what-if answer cache (`answers`) and the offline sentence embeddings it uses."""
