#!/usr/bin/env python3
"""Draw the perturbation curve of METHOD.md 4.1: test AUC and LogLoss of the BINARY and RATING heads as Gaussian
noise of growing sigma is added to the field embeddings (the same noise for both heads).

    python3 examples/perturbation_curve.py --dataset ml-1m --backbone DCNV2 --out dcnv2-noise
    python3 examples/perturbation_curve.py --runs RUN_BINARY RUN_RATING --out dcnv2-noise

Writes OUT.csv, and OUT.png when matplotlib is installed.
"""

import argparse
import csv
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from ctrlab import Client  # noqa: E402

ML1M_SIGMAS = [0.0, 0.01, 0.03, 0.05, 0.07, 0.09]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", default=os.environ.get("CTRLAB_SERVER", "localhost:50051"))
    p.add_argument("--token", default=os.environ.get("CTRLAB_TOKEN"))
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--backbone", default="DCNV2")
    p.add_argument("--runs", nargs=2, metavar=("BINARY_RUN", "RATING_RUN"), help="use finished runs instead")
    p.add_argument("--sigmas", type=float, nargs="+", default=ML1M_SIGMAS)
    p.add_argument("--noise-seed", type=int, default=2020)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--quick", action="store_true", help="a small model, for a smoke test")
    p.add_argument("--out", default="perturbation")
    a = p.parse_args()
    with Client(a.server, a.token) as c:
        if a.runs:
            runs = dict(zip(("BINARY", "RATING"), (c.run(r) for r in a.runs)))
        else:
            extra = dict(max_epochs=a.epochs) if a.epochs else {}
            if a.quick:
                extra.update(embedding_size=8, hyperparameters={"mlp_hidden_size": [16]})
            runs = {h: c.train(a.dataset, a.backbone, h, tags=["perturbation_curve"], **extra)
                    for h in ("BINARY", "RATING")}
            for h, r in runs.items():
                info = r.wait()
                if info.state != "SUCCEEDED":
                    print(f"{h} run {info.run_id} {info.state}: {info.message}", file=sys.stderr)
                    return 1
        rows = []
        for head, run in runs.items():
            for r in run.perturb(a.sigmas, noise_seed=a.noise_seed):
                rows.append({"sigma": r.sigma, "head": head, "auc": r.auc, "logloss": r.logloss})
    with open(a.out + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["sigma", "head", "auc", "logloss"])
        w.writeheader()
        w.writerows(rows)
    print(f"{'sigma':>6s}  {'head':6s}  {'AUC':>7s}  {'LogLoss':>7s}")
    for r in rows:
        print(f"{r['sigma']:6.3f}  {r['head']:6s}  {r['auc']:7.4f}  {r['logloss']:7.4f}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"wrote {a.out}.csv (install matplotlib for {a.out}.png)")
        return 0
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for head in ("BINARY", "RATING"):
        pts = [r for r in rows if r["head"] == head]
        axes[0].plot([r["sigma"] for r in pts], [r["auc"] for r in pts], marker="o", label=head)
        axes[1].plot([r["sigma"] for r in pts], [r["logloss"] for r in pts], marker="o", label=head)
    axes[0].set(xlabel="sigma", ylabel="test AUC")
    axes[1].set(xlabel="sigma", ylabel="test LogLoss")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(a.out + ".png", dpi=120)
    print(f"wrote {a.out}.csv and {a.out}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
