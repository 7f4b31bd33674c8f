"""Correlation: related events (compatible type, near in space and time) become one incident."""

from safecity.processors.correlation.engine import CorrelationConfig, CorrelationRule, Correlator
from safecity.processors.correlation.processor import CorrelationProcessor

__all__ = ["CorrelationConfig", "CorrelationProcessor", "CorrelationRule", "Correlator"]
