#!/usr/bin/env python3
"""Run gpu-rnn and PyTorch alternately (A B A B …) on the lecture model with the same kind of
batches (256 shuffled training names), and print names/s and the ratios gpu-rnn / PyTorch.
With --backend gpu, also the 1024^3 matmul kernels against PyTorch's sgemm, alternately.
With --model charlm, the character language model instead (benches/torch_charlm.py against
`gpu-rnn bench --charlm`): training chars/s and sampling chars/s.

Usage (after `cargo build --release`; needs pip install torch):
    python3 benches/compare.py [--rounds 2] [--backend cpu|gpu] [--threads 2] [--model charlm]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd):
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--backend", default="cpu", choices=["cpu", "gpu"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batches", type=int, default=8)
    p.add_argument("--model", default="lecture", choices=["lecture", "charlm"])
    a = p.parse_args()
    if a.model == "charlm":
        return compare_charlm(a)
    ours = [os.path.join(ROOT, "target", "release", "gpu-rnn"), "bench", "--json", "--no-kernels", "--backend", a.backend, "--batches", str(a.batches)]
    theirs = [sys.executable, os.path.join(ROOT, "benches", "torch_baseline.py"), "--json", "--threads", str(a.threads), "--batches", str(a.batches)]
    rows = []
    for r in range(a.rounds):
        g = run(ours)[0]
        t = run(theirs)[0]
        rows.append((g, t))
        print(f"round {r + 1}: gpu-rnn {a.backend} train {g['train_names_per_s']:.0f} / infer {g['infer_names_per_s']:.0f} names/s;"
              f" pytorch train {t['train_names_per_s']:.0f} / infer {t['infer_names_per_s']:.0f} names/s")
    train = statistics.median(g["train_names_per_s"] / t["train_names_per_s"] for g, t in rows)
    infer = statistics.median(g["infer_names_per_s"] / t["infer_names_per_s"] for g, t in rows)
    print(f"gpu-rnn ({rows[0][0]['backend']}) / PyTorch {rows[0][1]['torch']} ({a.threads} threads), median of {a.rounds} rounds: train {train:.2f}x, inference {infer:.2f}x")
    if a.backend == "gpu":
        # The matmul target: 1024^3 on the GPU against PyTorch's sgemm, also alternately.
        mm = [os.path.join(ROOT, "target", "release", "gpu-rnn"), "bench", "--json", "--backend", "gpu", "--kernel", "matmul_subgroup", "--kernel", "matmul_vec4", "--runs", "10"]
        ratios = []
        for r in range(a.rounds):
            ours = {}
            for line in run(mm):
                if line.get("kind") == "kernel" and "1024" in line.get("shape", "") and line.get("gpu_rate"):
                    ours[line["kernel"]] = line["gpu_rate"]
            sgemm = run(theirs)[0]["sgemm_1024_gflops"]
            if not ours:
                sys.exit("gpu-rnn bench reported no GPU time for the 1024^3 matmul (no timestamp queries?)")
            best = max(ours, key=ours.get)
            ratios.append(ours[best] / sgemm)
            print(f"round {r + 1}: matmul 1024^3 {best} {ours[best]:.1f} GFLOP/s ({', '.join(f'{k} {v:.1f}' for k, v in ours.items())}); pytorch sgemm {sgemm:.1f} GFLOP/s")
        print(f"matmul 1024^3 / PyTorch sgemm, median of {a.rounds} rounds: {100 * statistics.median(ratios):.0f}%")


def compare_charlm(a):
    ours = [os.path.join(ROOT, "target", "release", "gpu-rnn"), "bench", "--charlm", "--json", "--backend", a.backend, "--batches", str(a.batches)]
    theirs = [sys.executable, os.path.join(ROOT, "benches", "torch_charlm.py"), "--mode", "speed", "--json", "--threads", str(a.threads), "--batches", str(a.batches)]
    rows = []
    for r in range(a.rounds):
        g = [x for x in run(ours) if x.get("kind") == "charlm"][0]
        t = run(theirs)[0]
        rows.append((g, t))
        print(f"round {r + 1}: gpu-rnn {a.backend} train {g['train_chars_per_s']:.0f} / sample {g['sample_chars_per_s']:.0f} chars/s;"
              f" pytorch train {t['train_chars_per_s']:.0f} / sample {t['sample_chars_per_s']:.0f} chars/s", flush=True)
    train = statistics.median(g["train_chars_per_s"] / t["train_chars_per_s"] for g, t in rows)
    sample = statistics.median(g["sample_chars_per_s"] / t["sample_chars_per_s"] for g, t in rows)
    print(f"gpu-rnn ({rows[0][0]['backend']}) / PyTorch {rows[0][1]['torch']} ({a.threads} threads), median of {a.rounds} rounds: train {train:.2f}x, sampling {sample:.2f}x")


if __name__ == "__main__":
    main()
