"""Model architectures (tf_keras), looked up by name."""
from tinyecg.models.architectures import ARCHITECTURES, build, count_macs

__all__ = ["ARCHITECTURES", "build", "count_macs"]
