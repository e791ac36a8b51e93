"""The router section as a frozen spec: what the policy, plan and engine read after resolve.

:class:`~sn40l_sim.config.router_config.RouterConfig` validates the YAML; :func:`router_spec`
copies it into plain values (tables as tuples of pairs, in the file's order), so no pydantic
object leaves ``config/``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sn40l_sim.config.router_config import RouterConfig

Weights = tuple[tuple[str, float], ...]  # (name, weight) pairs in the file's order


@dataclass(frozen=True, slots=True)
class RouterSpec:
    """How a prompt becomes an expert (docs: RouterConfig; the same field names and units)."""

    model: str | None = None  # a catalogue model that routes; None: no simulated router model
    output_tokens: int = 1
    latency: float | None = None  # seconds: a fixed routing delay
    categories: Weights | None = None
    mapping: str | tuple[tuple[str, str], ...] = "round_robin"  # a name, or (category, expert) pairs
    zipf_s: float = 1.0
    classifier: str = "none"
    accuracy: float | None = None
    confusion: tuple[tuple[str, Weights], ...] | None = None  # (true category, routed weights)
    confidence_threshold: float | None = None
    fallback_expert: str | None = None

    @property
    def table(self) -> dict[str, str] | None:
        """The mapping table {category: expert}, or None when ``mapping`` is a name."""
        return None if isinstance(self.mapping, str) else dict(self.mapping)

    def mix(self) -> dict[str, float] | None:
        """The configured category mix as probabilities summing to 1 (None when not configured)."""
        if self.categories is None:
            return None
        total = sum(w for _, w in self.categories)
        return {name: weight / total for name, weight in self.categories}


def _weights(table: dict[str, float] | None) -> Weights | None:
    return None if table is None else tuple((k, float(v)) for k, v in table.items())


def router_spec(config: RouterConfig) -> RouterSpec:
    """Copy a validated router section into its frozen spec."""
    mapping = config.mapping
    return RouterSpec(
        model=config.model, output_tokens=int(config.output_tokens),
        latency=None if config.latency is None else float(config.latency),
        categories=_weights(config.categories),
        mapping=mapping if isinstance(mapping, str) else tuple(mapping.items()),
        zipf_s=float(config.zipf_s), classifier=config.classifier, accuracy=config.accuracy,
        confusion=(None if config.confusion is None else
                   tuple((true, _weights(row) or ()) for true, row in config.confusion.items())),
        confidence_threshold=config.confidence_threshold, fallback_expert=config.fallback_expert)
