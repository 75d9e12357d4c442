"""The per-rep charts: named bars for a small team, one outline per segment's run of reps for a
large one (the same bars, drawn fast), and the same bytes for the same plan."""

from __future__ import annotations

import io

import numpy as np
import polars as pl
from matplotlib.figure import Figure
from matplotlib.patches import StepPatch
from PIL import Image

from pipeline.exports import report_charts as charts

DPI = 50


def _team(reps: int) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    segments = ["enterprise"] * (reps // 2) + ["smb"] * (reps - reps // 2 - 3) + ["enterprise"] * 3
    return pl.DataFrame({"rep_id": [f"R{i:04d}" for i in range(reps)], "segment": segments,
                         "quota": rng.gamma(2.0, 50_000.0, reps), "balance_deviation": rng.normal(0, 0.05, reps)})


def test_a_large_team_is_drawn_as_one_outline_per_run_of_a_segment():
    team = _team(500)
    ax = Figure().subplots()
    charts._segment_outlines(ax, team, "quota", charts._segment_colors(team["segment"].to_list()))
    outlines = [p for p in ax.patches if isinstance(p, StepPatch)]
    assert [len(p.get_data().values) for p in outlines] == [250, 247, 3]  # enterprise, smb, enterprise again
    assert np.concatenate([p.get_data().values for p in outlines]).tolist() == team["quota"].to_list()
    assert outlines[0].get_data().edges[0] == -0.5 and outlines[-1].get_data().edges[-1] == team.height - 0.5
    assert [t.get_text() for t in ax.get_xticklabels()] == ["enterprise", "smb", "enterprise"]
    assert ax.get_legend_handles_labels()[1] == ["enterprise", "smb"]


def test_rep_names_are_drawn_up_to_the_setting_and_the_same_plan_gives_the_same_bytes():
    team = _team(80)
    named, outlined = charts.quota_by_rep(team, DPI, named_reps=80), charts.quota_by_rep(team, DPI, named_reps=79)
    assert named != outlined
    assert outlined == charts.quota_by_rep(team, DPI, named_reps=79)
    assert Image.open(io.BytesIO(outlined)).size == Image.open(io.BytesIO(named)).size
    balance = charts.territory_balance(team, 0.05, DPI, named_reps=10)
    assert balance is not None and balance == charts.territory_balance(team, 0.05, DPI, named_reps=10)
    assert charts.quota_by_rep(team.head(0), DPI, named_reps=10) is None
