"""sn40l-sim: what it costs to serve a Composition of Experts on SN40L vs DGX A100/H100."""

__version__ = "0.1.0"
