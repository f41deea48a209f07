#!/usr/bin/env python3
"""PyTorch baseline for the lecture-13 model on the same machine: names/s for a training step
(forward, loss, backward, Adam) and for inference, with the same model, batch size and data as
`gpu-rnn bench` / `gpu-rnn train` (2-layer bidirectional GRU(100) over packed names, batch 256).

Usage: pip install torch; python3 benches/torch_baseline.py [--threads 2] [--batches 20]
Prints one line per measurement; --json prints a JSON object instead.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures"))
from lecture_model import ROOT, RNNClassifier, make_tensors, read_names  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    train = read_names(os.path.join(ROOT, "data", "names_train.csv.gz"))
    classes = sorted({c for _, c in train})
    model = RNNClassifier(128, 100, 100, len(classes), 2, True, "gru")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    crit = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(train), generator=g).tolist()
    batches = [order[i : i + a.batch_size] for i in range(0, a.batch_size * (a.batches + 2), a.batch_size)]

    def tensors(idx):
        rows = [train[i % len(train)] for i in idx]
        padded, lengths, perm = make_tensors([n for n, _ in rows])
        target = torch.tensor([classes.index(c) for _, c in rows])[perm]
        return padded, lengths, target

    prepared = [tensors(b) for b in batches]
    # Training: two warm-up steps, then the timed ones.
    times = []
    for i, (x, lens, y) in enumerate(prepared):
        t0 = time.perf_counter()
        loss = crit(model(x, lens), y)
        model.zero_grad()
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    train_rate = a.batch_size * len(times) / sum(times)
    with torch.no_grad():
        times = []
        for i, (x, lens, _) in enumerate(prepared):
            t0 = time.perf_counter()
            model(x, lens)
            if i >= 2:
                times.append(time.perf_counter() - t0)
    infer_rate = a.batch_size * len(times) / sum(times)
    # sgemm at 1024^3 (the kernel benchmarks' large matmul): median of 25 after a warm-up.
    x, y = torch.randn(1024, 1024), torch.randn(1024, 1024)
    for _ in range(3):
        x @ y
    times = []
    for _ in range(25):
        t0 = time.perf_counter()
        x @ y
        times.append(time.perf_counter() - t0)
    sgemm = 2 * 1024**3 / sorted(times)[len(times) // 2] * 1e-9
    result = {"torch": torch.__version__, "threads": a.threads, "batch_size": a.batch_size, "train_names_per_s": train_rate, "infer_names_per_s": infer_rate, "sgemm_1024_gflops": sgemm}
    if a.json:
        print(json.dumps(result))
    else:
        print(f"pytorch {torch.__version__}, {a.threads} threads, batch {a.batch_size}: train {train_rate:.1f} names/s, inference {infer_rate:.1f} names/s, sgemm 1024^3 {sgemm:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
