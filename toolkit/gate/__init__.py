"""The parity gate: evaluate artifacts in their runtimes, compare with the reference, decide, keep the evidence."""
