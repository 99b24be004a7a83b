"""The local executor: cells as child processes on this machine, `parallel` at a time, each
pinned to a GPU card of its own when the machine has cards.

The scheduling runs in the caller's thread (it is the one that records what started and what
ended); a pool thread only waits for its child. A card is handed to a cell when it starts and
back when it ends, so two cells never share a card, and with `parallel` 1 the cells run one
after another exactly as `collapse-lab run` would run them by hand.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from lab.errors import ExecutorError
from lab.sweeps.cells import Cell, Launcher, Outcome
from lab.sweeps.stopping import Stop

Started = Callable[[Cell, str], None]
Ended = Callable[[Cell, Outcome], None]


@dataclass(frozen=True)
class LocalExecutor:
    """`parallel` cells at once; `cards` the GPU cards to pin them to (empty: none)."""

    parallel: int = 1
    cards: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.cards:
            return (
                f"local, {self.parallel} at once on cards {', '.join(self.cards[: self.parallel])}"
            )
        return f"local, {self.parallel} at once" if self.parallel > 1 else "local, one at a time"

    def environments(self) -> list[dict[str, str]]:
        """The extra environment of each of the `parallel` slots: its card, or nothing."""
        if not self.cards:
            return [{} for _ in range(self.parallel)]
        from lab.device import card_environment

        return [card_environment(card) for card in self.cards[: self.parallel]]

    def run(
        self, cells: Sequence[Cell], launch: Launcher, started: Started, ended: Ended, stop: Stop
    ) -> None:
        """Run every cell, telling `started` (with where it runs) and `ended` as they go;
        once `stop` is requested, start no more and return when the running ones end."""
        slots = self.environments()
        free = list(range(len(slots)))
        waiting = deque(enumerate(cells))
        running: dict[Future[Outcome], tuple[int, Cell, int]] = {}
        with ThreadPoolExecutor(max_workers=len(slots), thread_name_prefix="cell") as pool:
            while running or (waiting and not stop.requested):
                while waiting and free and not stop.requested:
                    slot = free.pop(0)
                    order, cell = waiting.popleft()
                    environment = slots[slot]
                    started(cell, f"card {self.cards[slot]}" if environment else "this machine")
                    running[pool.submit(launch, cell, environment)] = (order, cell, slot)
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: running[f][0]):
                    _, cell, slot = running.pop(future)
                    free = sorted([*free, slot])
                    ended(cell, future.result())


def local_executor(parallel: int | None, cards: Sequence[str] | None = None) -> LocalExecutor:
    """`parallel` None: one cell per card, or one at a time without cards. `cards` None: the
    cards this machine has (lab/device.py). More cells at once than cards is refused, since a
    cell gets a card of its own."""
    if cards is None:
        from lab.device import visible_cards

        cards = visible_cards()
    cards = tuple(cards)
    if parallel is None:
        parallel = max(1, len(cards))
    if cards and parallel > len(cards):
        raise ExecutorError(
            f"--parallel {parallel} runs {parallel} cells at once, but this machine has "
            f"{len(cards)} GPU cards and each cell gets one of its own; use --parallel "
            f"{len(cards)} or fewer (or --executor ray to use several machines)."
        )
    return LocalExecutor(parallel=parallel, cards=cards)
