"""mobilecomp: compressed BERTs to verified, quantised, profiled ONNX and TFLite bundles."""

__version__ = "0.1.0"
