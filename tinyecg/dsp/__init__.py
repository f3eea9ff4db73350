"""Signal processing: the float reference used in training and, beside it, the integer
reference that generated C must match bit for bit."""
