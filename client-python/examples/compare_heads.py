#!/usr/bin/env python3
"""Train one backbone with the BINARY and the RATING head on the same seed and compare them.

    python3 examples/compare_heads.py --server localhost:50051 --dataset ml-1m --backbone DCNV2
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from ctrlab import Client  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", default=os.environ.get("CTRLAB_SERVER", "localhost:50051"))
    p.add_argument("--token", default=os.environ.get("CTRLAB_TOKEN"))
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--backbone", default="DCNV2")
    p.add_argument("--rating-weight", type=float, default=None, help="lambda_r (server default 0.7)")
    p.add_argument("--seed", type=int, default=2020)
    p.add_argument("--epochs", type=int, default=None, help="upper bound on epochs (default: early stopping)")
    p.add_argument("--quick", action="store_true", help="a small model, for a smoke test")
    a = p.parse_args()
    extra = dict(max_epochs=a.epochs) if a.epochs else {}
    if a.quick:
        extra.update(embedding_size=8, hyperparameters={"mlp_hidden_size": [16]})
    with Client(a.server, a.token) as c:
        runs = {h: c.train(a.dataset, a.backbone, h, seed=a.seed, rating_weight=a.rating_weight,
                           tags=["compare_heads"], **extra) for h in ("BINARY", "RATING")}
        results = {}
        for head, run in runs.items():
            for e in run.watch():
                if e.kind in ("epoch", "state"):
                    print(f"{head:6s} {e}")
            results[head] = run.result()
    print()
    print(f"{'head':6s}  {'test AUC':>8s}  {'LogLoss':>8s}  {'best epoch':>10s}  {'s/epoch':>7s}")
    for head, r in results.items():
        if r.state != "SUCCEEDED":
            print(f"{head:6s}  {r.state}: {r.message}")
            return 1
        print(f"{head:6s}  {r.test_auc:8.4f}  {r.test_logloss:8.4f}  {r.best_epoch:10d}  {r.seconds_per_epoch:7.2f}")
    print(f"RATING - BINARY test AUC: {results['RATING'].test_auc - results['BINARY'].test_auc:+.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
