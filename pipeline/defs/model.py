"""Close probability: the model trained on the point-in-time snapshot panel, and the scores of
the plan's whitespace items."""

import json
import pickle
import time

import dagster as dg
import polars as pl

from models.close_probability import train_close_model
from pipeline.features import feature_spec
from pipeline.resources import PlanConfig, Warehouse
from pipeline.sql_assets import table_result
from pipeline.warehouse import table_exists


@dg.asset(group_name="model", deps=["item_features", "raw_usage"], kinds={"scikit-learn"})
def close_probability_model(
    context: dg.AssetExecutionContext, warehouse: Warehouse, plan_config: PlanConfig
) -> dg.MaterializeResult:
    """The chosen close-probability model. Writes work.model_metrics (grain: model_version x
    model x segment x metric; rates 0-1) and work.model_info (one row: version, chosen
    candidate, fallback reason, features, learned capture per kind); the fitted model is
    pickled beside the DuckDB file under artifacts/."""
    started = time.perf_counter()
    settings = plan_config.load()
    with warehouse.connect() as con:
        panel = con.sql("SELECT * FROM work.item_features WHERE role = 'train'").pl()
        fingerprint, has_usage = con.execute(
            "SELECT any_value(data_fingerprint), any_value(has_usage) FROM raw.input_files"
        ).fetchone()
        spec = feature_spec(has_usage)
        model = train_close_model(
            panel,
            spec,
            seed=settings.seed,
            holdout_share=settings.model.holdout_share,
            min_positive_rows=settings.model.min_positive_rows,
            data_fingerprint=fingerprint,
            settings=settings.model_dump(mode="json"),
            max_training_rows=settings.model.max_training_rows,
        )
        warehouse.artifact_dir.mkdir(parents=True, exist_ok=True)
        (warehouse.artifact_dir / f"{model.version}.pkl").write_bytes(pickle.dumps(model))
        metrics = model.metrics  # noqa: F841  (read by the SQL below)
        con.execute("CREATE OR REPLACE TABLE work.model_metrics AS SELECT * FROM metrics ORDER BY ALL")
        info = pl.DataFrame(
            {
                "model_version": [model.version],
                "chosen": [model.chosen],
                "fallback_reason": [model.fallback_reason],
                "features": [json.dumps({"numeric": spec.numeric, "categorical": spec.categorical})],
                "uses_usage": [has_usage],
                "capture": [json.dumps(model.capture, sort_keys=True)],
                "training_rows": [panel.height],
            }
        )
        con.execute("CREATE OR REPLACE TABLE work.model_info AS SELECT * FROM info")
        if model.fallback_reason:
            context.log.warning(model.fallback_reason)
        return table_result(
            context, con, "work.model_metrics", started,
            metadata={"model_version": model.version, "chosen": model.chosen, "uses_usage": has_usage},
        )


@dg.asset(group_name="model", deps=["close_probability_model", "item_features"], kinds={"scikit-learn"})
def item_scores(
    context: dg.AssetExecutionContext, warehouse: Warehouse, plan_config: PlanConfig
) -> dg.MaterializeResult:
    """p_close (0-1) and capture (0-1) of each whitespace item on the plan date.
    Grain: (account_id, product_id, kind)."""
    started = time.perf_counter()
    settings = plan_config.load()
    with warehouse.connect() as con:
        if not table_exists(con, "work", "model_info"):
            raise ValueError("no trained close-probability model in this DuckDB file: run plan_job first")
        version = con.execute("SELECT model_version FROM work.model_info").fetchone()[0]
        model = pickle.loads((warehouse.artifact_dir / f"{version}.pkl").read_bytes())
        items = con.sql("SELECT * FROM work.item_features WHERE role = 'plan'").pl()
        capture = settings.model.capture
        scores = items.select("account_id", "product_id", "kind").with_columns(
            p_close=pl.Series(model.predict(items), dtype=pl.Float64),
            capture=(
                pl.col("kind").replace_strict(model.capture, default=1.0, return_dtype=pl.Float64)
                if capture == "learned"
                else pl.lit(float(capture))
            ),
        )
        con.execute("CREATE OR REPLACE TABLE work.item_scores AS SELECT * FROM scores ORDER BY ALL")
        return table_result(context, con, "work.item_scores", started, metadata={"model_version": version})
