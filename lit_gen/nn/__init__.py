"""Plain ``nn.Module`` networks, free of any Lightning logic."""

from lit_gen.nn.conv import ConvDecoder, ConvEncoder

__all__ = ["ConvDecoder", "ConvEncoder"]
