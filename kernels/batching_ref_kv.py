"""KV-cache book of the plain-Python batching reference (:mod:`twin.kernels.batching_ref`):
reserve (each request holds ``prompt + output`` from admission to completion) or paged
(whole blocks, grown as tokens are produced, LIFO preemption), written out with lists and
dicts apart from the compiled :mod:`twin.kernels.batching_paged`."""

from __future__ import annotations

from twin.kernels.batching_state import WATERMARK_SHARE


class KVBook:
    """The KV tokens in use of one reference replica, and its rules.

    A request is a dict with ``p`` (prompt), ``o`` (output), ``pf`` (tokens prefilled),
    ``target`` (tokens to prefill), ``prod`` (output tokens produced).
    """

    def __init__(self, capacity_tokens: int, block_tokens: int) -> None:
        self.block = block_tokens
        self.used = 0
        if block_tokens == 0:
            self.top, self.margin = capacity_tokens, 0
        else:
            blocks = capacity_tokens // block_tokens
            self.top = blocks * block_tokens
            self.margin = (blocks // WATERMARK_SHARE) * block_tokens

    def whole_blocks(self, tokens: int) -> int:
        """``tokens`` rounded up to whole blocks."""
        if self.block == 0:
            return tokens
        blocks = -(-tokens // self.block)
        return blocks * self.block

    def held(self, r: dict) -> int:
        """KV tokens ``r`` holds between iterations."""
        if self.block == 0:
            return r["p"] + r["o"]
        prefilling = 1 if r["pf"] < r["target"] else 0
        return self.whole_blocks(r["p"] + r["prod"] + prefilling)

    def admission_need(self, p: int, o: int, produced: int, computes_now: bool) -> int:
        """KV tokens admission gives a request of ``produced`` tokens so far: the final
        footprint (reserve) or the blocks of its context plus the token it computes in the
        admission iteration (none when it only joins vLLM's decodes later on)."""
        if self.block == 0:
            return p + o
        return self.whole_blocks(p + produced + (1 if computes_now else 0))

    def admits(self, need: int) -> bool:
        """Whether admission (or a swap-in) of ``need`` tokens leaves the watermark free."""
        return self.used + need + self.margin <= self.top

    def take(self, tokens: int) -> None:
        self.used += tokens

    def give_back(self, r: dict) -> None:
        self.used -= self.held(r)

    def grow_decodes(self, running: list, preempt) -> int:
        """Give each decoding request of ``running`` (in order) the KV of its next token,
        calling ``preempt(victim)`` on the last running request while the blocks fall
        short (the decode itself when it is the last); returns the preemptions."""
        if self.block == 0:
            return 0
        count = 0
        i = 0
        while i < len(running):
            r = running[i]
            if r["pf"] == r["target"]:
                context = r["p"] + r["prod"]
                extra = self.whole_blocks(context + 1) - self.whole_blocks(context)
                while self.used + extra > self.top:
                    victim = running.pop()
                    self.give_back(victim)
                    preempt(victim)
                    count += 1
                    if victim is r:
                        break
                else:
                    self.used += extra
            i += 1
        return count
