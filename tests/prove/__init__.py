"""The proof suite: crash loops, sink outages, disk trouble, bad input and security (docs/proof.md)."""
