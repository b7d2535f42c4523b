"""Bagging-area security: does the weight in the bagging area match what was scanned?

Pure: fed stable readings of the bagging scale and the items scanned, it answers ok, or the
intervention reason (weight_mismatch, unexpected_item, item_removed). Tolerances are per item
(``weight_tol_g``) or the configured absolute/percent tolerance, whichever is larger. An item
whose weight is unknown is learned: whatever weight arrives for it is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Expected:
    line_no: int
    weight_g: int | None  # None = unknown, learn it
    tolerance_g: int


@dataclass(frozen=True, slots=True)
class Bagging:
    baseline_g: int = 0  # scale reading when the session started (bags, hooks)
    placed_g: int = 0  # weight accepted as bagged this session
    awaiting: tuple[Expected, ...] = ()
    placed: tuple[tuple[int, int], ...] = ()  # (line, grams) accepted as bagged, for voids
    last_g: int = 0  # last stable reading
    tolerance_g: int = 15  # below this a change is noise, never an intervention

    def expect(self, line_no: int, weight_g: int | None, tolerance_g: int) -> Bagging:
        """Wait for ``line_no`` in the bag; an item lighter than the scale can tell apart from noise
        is not waited for (it can never be checked, and must never block the shopper)."""
        if weight_g is not None and weight_g <= self.tolerance_g:
            return self
        return replace(self, awaiting=self.awaiting + (Expected(line_no, weight_g, tolerance_g),))

    def forget(self, line_no: int) -> Bagging:
        """A voided line: no longer awaited, and if it was bagged its weight must now leave the bag."""
        taken = sum(grams for line, grams in self.placed if line == line_no)
        return replace(self, awaiting=tuple(e for e in self.awaiting if e.line_no != line_no),
                       placed=tuple(p for p in self.placed if p[0] != line_no), placed_g=self.placed_g - taken)

    def reset(self) -> Bagging:
        """A new session: whatever is on the scale now is the baseline."""
        return Bagging(baseline_g=self.last_g, last_g=self.last_g, tolerance_g=self.tolerance_g)

    def accept_current(self) -> Bagging:
        """An attendant cleared a bagging intervention: the weight as it is now is right."""
        return replace(self, placed_g=self.last_g - self.baseline_g, awaiting=())

    def expected_now_g(self) -> int:
        return self.baseline_g + self.placed_g + sum(e.weight_g or 0 for e in self.awaiting)

    def reading(self, weight_g: int) -> tuple[Bagging, str | None, tuple[int, ...]]:
        """Feed one stable reading; returns (new state, intervention reason or None, lines bagged).

        The new weight may match any prefix of the awaited items (a shopper can scan two items,
        then bag both); anything else is an intervention reason.
        """
        state = replace(self, last_g=weight_g)
        delta = weight_g - self.baseline_g - self.placed_g
        if abs(delta) <= self.tolerance_g:
            return state, None, ()
        cumulative, tolerance = 0, self.tolerance_g
        for k, item in enumerate(self.awaiting, start=1):
            if item.weight_g is None:  # unknown weight: whatever was added is this item (learned)
                if delta - cumulative > self.tolerance_g:
                    return self._placed(state, delta, k)
                break
            cumulative += item.weight_g
            tolerance += item.tolerance_g
            if abs(delta - cumulative) <= tolerance:
                return self._placed(state, delta, k)
        if delta < 0:
            return state, "item_removed", ()
        if not self.awaiting:
            return state, "unexpected_item", ()
        return state, "weight_mismatch", ()

    def _placed(self, state: Bagging, delta: int, k: int) -> tuple[Bagging, None, tuple[int, ...]]:
        items = self.awaiting[:k]
        lines = tuple(e.line_no for e in items)
        known = sum(e.weight_g or 0 for e in items)
        # the measured weight, shared out: known weights as expected, the rest to learned items
        unknown = [e for e in items if e.weight_g is None]
        grams = [(e.line_no, e.weight_g if e.weight_g is not None else (delta - known) // max(len(unknown), 1))
                 for e in items]
        return (replace(state, placed_g=self.placed_g + delta, awaiting=self.awaiting[k:],
                        placed=self.placed + tuple(grams)), None, lines)
