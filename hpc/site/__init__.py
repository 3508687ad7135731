"""A Slurm site modelled as data (`model`): what the site simulator honours and what
`schedsight site import` reads from a live cluster."""
