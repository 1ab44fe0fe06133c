"""`edgekit benchmark`: latency, throughput and memory of every artifact in every runtime here."""
