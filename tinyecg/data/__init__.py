"""MIT-BIH data: records (wfdb), beats (windows, labels, rhythm), splits, the on-disk cache."""
