"""How random a secret looks: production refuses webhook secrets and API keys that people typed or patterned."""

import itertools
import math
from collections import Counter


def estimated_entropy_bits(data: bytes) -> float:
    """A rough upper bound on the randomness in data, low for repeats, short patterns and sequences.

    Shannon entropy of the symbols and of the steps between neighbours, whichever is lower, times the
    length of the shortest repeating unit: 32 random bytes score about 150 bits; "aaaa...", "abcd..." and
    "password1password1..." far less. It catches the weak secrets people type, not every weak secret.
    """

    def shannon(symbols: list[int]) -> float:
        counts = Counter(symbols)
        return -sum(n / len(symbols) * math.log2(n / len(symbols)) for n in counts.values()) if symbols else 0.0

    def repeats(period: int) -> bool:
        return all(data[i] == data[i % period] for i in range(len(data)))

    unit = data[: next((p for p in range(1, len(data) // 2 + 1) if repeats(p)), len(data))]
    steps = [(b - a) % 256 for a, b in itertools.pairwise(unit)]
    return len(unit) * min(shannon(list(unit)), shannon(steps))
