"""`make demo`: the whole AceCoder loop on the policy world, on CPU (see docs/demo.md)."""
