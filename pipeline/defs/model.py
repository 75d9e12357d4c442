"""Close probability: the model trained on the point-in-time snapshot panel, and the scores of
the plan's whitespace items."""

import json
import time

import dagster as dg
import polars as pl

from models.artifacts import load_model, save_model
from models.charts import markdown_image
from models.close_probability import ImportanceSettings, train_close_model
from models.ensemble import EnsembleSettings
from models.feature_spec import feature_spec
from pipeline.core.settings import PlanSettings
from pipeline.core.warehouse import table_exists
from pipeline.defs.resources import Warehouse
from pipeline.defs.sql_asset import markdown_table, table_result
from pipeline.plan.item_scores import write_item_scores

MODEL_GROUP = "model"
# what the model step writes besides the model file: asset key (= work table) -> what it holds
MODEL_TABLES = {
    "model_metrics": "holdout metrics. Grain: model_version x model x segment x metric; rates 0-1",
    "model_info": "one row: version, chosen candidate, fallback reason, calibration, features, the amount "
                  "model (method, won deals and median per kind), artifact file",
    "feature_importances": "grain: feature; rise in holdout log loss when the feature is shuffled",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec("close_probability_model", group_name=MODEL_GROUP, deps=["item_features", "raw_input_files"],
                     kinds={"scikit-learn"},
                     description="The chosen close-probability model, saved beside the DuckDB file under artifacts/ "
                     "with a JSON sidecar and the calibration and importance charts (models/artifacts.py)."),
        *(dg.AssetSpec(name, group_name=MODEL_GROUP, kinds={"duckdb"}, description=f"work.{name}: {meaning}.")
          for name, meaning in MODEL_TABLES.items()),
    ],
    can_subset=False,
)
def close_probability_model(
    context: dg.AssetExecutionContext, warehouse: Warehouse, settings: dg.ResourceParam[PlanSettings]
):
    """Train the close-probability model on the point-in-time panel (item_features, role
    train); write its metrics, info and importances."""
    started = time.perf_counter()
    with warehouse.connect() as con:
        panel = con.sql("SELECT * FROM work.item_features WHERE role = 'train'").pl()
        fingerprint, has_usage = con.execute(
            "SELECT any_value(data_fingerprint), any_value(has_usage) FROM raw.input_files"
        ).fetchone()
        spec = feature_spec(has_usage, panel)
        model = train_close_model(
            panel,
            spec,
            seed=settings.seed,
            holdout_share=settings.model.holdout_share,
            min_positive_rows=settings.model.min_positive_rows,
            data_fingerprint=fingerprint,
            settings=settings.plan_identity(),
            max_training_rows=settings.model.max_training_rows,
            importance=ImportanceSettings(settings.evaluation.importance_rows, settings.evaluation.importance_repeats),
            ensemble=EnsembleSettings(settings.model.ensemble_members, settings.model.ensemble_subsample),
            amount_min_won_deals=settings.model.amount_min_won_deals,
            amount_ceiling_kinds=tuple(settings.model.amount_ceiling_kinds),
        )
        saved = save_model(model, warehouse.artifact_dir, has_usage, fingerprint)
        metrics = model.metrics  # noqa: F841  (read by the SQL below)
        con.execute("CREATE OR REPLACE TABLE work.model_metrics AS SELECT * FROM metrics ORDER BY ALL")
        importances = model.importances.select(pl.lit(model.version).alias("model_version"), pl.all())  # noqa: F841
        con.execute("CREATE OR REPLACE TABLE work.feature_importances AS SELECT * FROM importances")
        info = pl.DataFrame(  # noqa: F841  (read by the SQL below)
            {
                "model_version": [model.version],
                "chosen": [model.chosen],
                "fallback_reason": [model.fallback_reason],
                "calibration": [model.calibrator.method if model.calibrator else None],
                "features": [json.dumps({"numeric": model.features.numeric,
                                         "categorical": model.features.categorical})],
                "uses_usage": [has_usage],
                "amount": [json.dumps(model.amount.summary(), sort_keys=True)],
                "training_rows": [panel.height],
                "artifact": [saved.model.name],
            },
            schema_overrides={"fallback_reason": pl.String, "calibration": pl.String},
        )
        con.execute("CREATE OR REPLACE TABLE work.model_info AS SELECT * FROM info")
        if model.fallback_reason:
            context.log.warning(model.fallback_reason)
        if not has_usage:
            context.log.warning("No usage table: the model was trained without usage features.")
        yield table_result(
            context, con, "work.model_metrics", started, asset_key="close_probability_model",
            metadata={
                "model_version": model.version,
                "chosen": model.chosen,
                "fallback_reason": model.fallback_reason or "",
                "uses_usage": has_usage,
                "model_file": dg.MetadataValue.path(str(saved.model)),
                "sidecar": dg.MetadataValue.path(str(saved.sidecar)),
                "calibration_chart": dg.MetadataValue.path(str(saved.calibration_chart)),
                "calibration_curve": dg.MetadataValue.md(markdown_image(saved.calibration_chart, "calibration")),
                "importance_chart": dg.MetadataValue.path(str(saved.importance_chart)),
                "feature_importances": dg.MetadataValue.md(_markdown(model.importances)),
                "holdout_metrics": dg.MetadataValue.md(_markdown(_overall_metrics(model.metrics))),
            },
        )
        for name in MODEL_TABLES:
            yield table_result(context, con, f"work.{name}", started, asset_key=name)


def _markdown(frame: pl.DataFrame) -> str:
    """A small frame as a Markdown table (floats to 4 decimals)."""
    return markdown_table(frame.columns, frame.rows(), decimals=4) if not frame.is_empty() else "(none)"


def _overall_metrics(metrics: pl.DataFrame) -> pl.DataFrame:
    """Holdout metrics of every model over all segments, one row per model."""
    overall = metrics.filter((pl.col("segment") == "all") & pl.col("metric").is_in(
        ["roc_auc", "pr_auc", "brier", "log_loss", "ece", "base_rate", "rows", "positives"]))
    return overall.pivot("metric", index="model", values="value").sort("model")


@dg.asset(group_name=MODEL_GROUP, deps=["close_probability_model", "model_info", "item_features"],
          kinds={"scikit-learn"})
def item_scores(
    context: dg.AssetExecutionContext, warehouse: Warehouse, settings: dg.ResourceParam[PlanSettings]
) -> dg.MaterializeResult:
    """p_close (0-1), expected_amount (E[booked | win], annual money) and amount_basis of each
    whitespace item on the plan date. Grain: (account_id, product_id, kind)."""
    started = time.perf_counter()
    with warehouse.connect() as con:
        if not table_exists(con, "work", "model_info"):
            raise ValueError("no trained close-probability model in this DuckDB file: run plan_job first")
        version = con.execute("SELECT model_version FROM work.model_info").fetchone()[0]
        model = load_model(warehouse.artifact_dir, version)
        write_item_scores(con, model, settings.model.expected_amount)
        ratios = con.execute(EEV_TO_ACV_SQL).pl()
        return table_result(context, con, "work.item_scores", started, metadata={
            "model_version": version,
            "eev_to_acv_by_segment": dg.MetadataValue.md(_markdown(ratios)),
        })


EEV_TO_ACV_SQL = """
-- distribution of account EEV / ACV per segment on the plan date (customers with ACV > 0)
WITH accounts AS (
    SELECT st.account_id, st.segment, st.acv, coalesce(sum(s.p_close * s.expected_amount), 0) AS eev
    FROM work.account_state AS st
    LEFT JOIN work.item_scores AS s USING (account_id)
    WHERE st.role = 'plan' AND st.acv > 0
    GROUP BY st.account_id, st.segment, st.acv
)
SELECT
    segment,
    count(*) AS accounts,
    quantile_cont(eev / acv, 0.5) AS p50,
    quantile_cont(eev / acv, 0.9) AS p90,
    quantile_cont(eev / acv, 0.99) AS p99,
    max(eev / acv) AS max,
    sum(eev) / sum(acv) AS total_eev_over_acv
FROM accounts
GROUP BY segment
ORDER BY segment
"""
