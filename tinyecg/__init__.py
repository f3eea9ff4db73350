"""tinyecg: ECG heartbeat classification from MIT-BIH to a microcontroller."""

__version__ = "0.1.0"
