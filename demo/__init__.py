"""``make demo``: a simulated Kon Rẫy district on one machine (see demo/run.py)."""
