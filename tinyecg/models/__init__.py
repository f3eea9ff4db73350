"""Models: the float architectures (architectures.py, tf_keras), the .tflite reader
(tflite.py) and the int8 model description every layer shares (int8.py).

Import the submodule you need: architectures pulls in TensorFlow, the other two do not."""
