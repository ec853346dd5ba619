"""Component ids, in one place: the pages and the browser tests both use these names."""

from __future__ import annotations

from dataclasses import dataclass

URL = "url"
PAGE = "page"
NAV = "nav"

# runs list
RUNS_TABLE = "runs-table"

# replay
REPLAY_RUN = "replay-run"
REPLAY_STATUS = "replay-status"
REPLAY_MAP = "replay-map"
REPLAY_SELECT = "replay-select"
REPLAY_SERIES = "replay-series"
REPLAY_FAULTS = "replay-faults"
REPLAY_FAULTS_BOX = "replay-faults-box"
REPLAY_LATENCY_LINK = "replay-latency-link"

# explore
EXPLORE_RUN = "explore-run"
EXPLORE_STATUS = "explore-status"
EXPLORE_KPIS = "explore-kpis"
EXPLORE_SITE = "explore-site"
EXPLORE_TENANT = "explore-tenant"
EXPLORE_STATE = "explore-state"
EXPLORE_JOBS = "explore-jobs"
EXPLORE_JOBS_NOTE = "explore-jobs-note"
EXPLORE_WAIT = "explore-wait"
EXPLORE_TRANSFERS = "explore-transfers"
EXPLORE_TRANSFERS_BOX = "explore-transfers-box"

# latency explorer
LATENCY_RUN = "latency-run"
LATENCY_STATUS = "latency-status"
LATENCY_SERVICE = "latency-service"
LATENCY_METRIC = "latency-metric"
LATENCY_SCOPE = "latency-scope"
LATENCY_KEYS = "latency-keys"
LATENCY_RANGE = "latency-range"
LATENCY_PERIOD = "latency-period"
LATENCY_LOG = "latency-log"
LATENCY_FIGURE = "latency-figure"
LATENCY_SLO = "latency-slo"
LATENCY_TABLE = "latency-table"

# replay: the map's layers and colouring, the network totals
REPLAY_LAYERS = "replay-layers"
REPLAY_TOTALS = "replay-totals"
REPLAY_COLOUR = "replay-colour"

# compare
COMPARE_A = "compare-a"
COMPARE_B = "compare-b"
COMPARE_STATUS = "compare-status"
COMPARE_DIFF = "compare-diff"
COMPARE_LAYERS = "compare-layers"
COMPARE_COLOUR = "compare-colour"
COMPARE_KPIS = "compare-kpis"
COMPARE_SERIES = "compare-series"
COMPARE_MAP_A = "compare-map-a"
COMPARE_MAP_B = "compare-map-b"

# sweeps
SWEEPS_TABLE = "sweeps-table"
SWEEP_PICK = "sweep-pick"
SWEEP_STATUS = "sweep-status"
SWEEP_METRIC = "sweep-metric"
SWEEP_X = "sweep-x"
SWEEP_LINE = "sweep-line"
SWEEP_HOLD = "sweep-hold"
SWEEP_NOTE = "sweep-note"
SWEEP_FIGURE = "sweep-figure"
SWEEP_CLICKED = "sweep-clicked"
SWEEP_POINTS = "sweep-points"
SWEEP_A = "sweep-a"
SWEEP_B = "sweep-b"
SWEEP_PAIR = "sweep-pair"
SWEEP_COMPARE_LINK = "sweep-compare-link"


@dataclass(frozen=True)
class Player:
    """The ids of one time player: a slider, play/pause, a speed choice and a clock."""

    prefix: str

    @property
    def slider(self) -> str:
        return f"{self.prefix}-slider"

    @property
    def play(self) -> str:
        return f"{self.prefix}-play"

    @property
    def speed(self) -> str:
        return f"{self.prefix}-speed"

    @property
    def interval(self) -> str:
        return f"{self.prefix}-interval"

    @property
    def clock(self) -> str:
        return f"{self.prefix}-clock"


REPLAY_PLAYER = Player("replay")
COMPARE_PLAYER = Player("compare")
