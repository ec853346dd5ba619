"""What-if sweeps: many runs of a scenario over a grid of overrides and seeds, on Dask."""
