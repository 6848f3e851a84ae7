"""Driving the Pulumi engine: finding it (toolchain), the Automation API workspace, an opened environment, the
operations and their events, the SDK fixes, and the decision that the engine need not run (fingerprint, unchanged)."""
