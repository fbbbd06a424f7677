"""What survives a restart: the data folder, checkpoint store, file registry, worker shards."""
