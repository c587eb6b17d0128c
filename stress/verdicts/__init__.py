"""What a run's records say: the verdict's checks and the run's figures. Pure
functions over the records, the look-ups and the statuses the run read; no network."""
