"""Link impairment (loss, delay, duplication): tc netem when the kernel has it, else a userspace relay."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from hbd.errors import LabError

if TYPE_CHECKING:
    from hbd.lab.lab import Lab


@dataclass(frozen=True)
class Impairment:
    loss: float = 0.0
    delay_ms: float = 0.0
    duplicate: float = 0.0

    @classmethod
    def make(cls, loss: float | None, delay_ms: float | None, duplicate: float | None) -> "Impairment":
        spec = cls(float(loss or 0), float(delay_ms or 0), float(duplicate or 0))
        for field, value, top in (("loss", spec.loss, 100), ("duplicate", spec.duplicate, 100), ("delay_ms", spec.delay_ms, 60000)):
            if not 0 <= value <= top:
                raise ValueError(f"{field} must be within 0..{top}, not {value}")
        return spec

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def apply(lab: "Lab", node: str, medium: int, spec: Impairment) -> str:
    raise LabError("netem: not available yet")


def remove(lab: "Lab", node: str, medium: int, via: str) -> None:
    return None
