#!/usr/bin/env python3
"""PyTorch baseline for gpu-rnn's character language model (`gpu-rnn train --task charlm`) on
the same machine, model and data: Embedding(V, 64) -> 2-layer nn.LSTM(256) -> Linear(256, V),
B 32 streams x S 100 steps of data/tinyshakespeare.txt, state carried (truncated BPTT), Adam
lr 2e-3, clip_grad_norm_ 5.

  --mode speed    training chars/s over --batches batches (after 2 warm-up batches), and
                  sampling chars/s of a loop that feeds one character at a time with the state
                  carried (batch 1), as `gpu-rnn sample` does
  --mode quality  --epochs full epochs from seed --seed; prints the validation loss (nats/char)
                  after every epoch, over the same validation streams as gpu-rnn's (the last
                  10% of the text, B streams of S steps from a zero state)

Usage: pip install torch; python3 benches/torch_charlm.py --mode speed [--threads 2] [--json]
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures"))
from charlm_model import CharLM, Streams, detach, vocab_of  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def load(path):
    text = open(path, encoding="utf-8").read()
    chars = vocab_of(text)
    index = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([index[c] for c in text])
    n_train = int(len(ids) * 0.9)
    return chars, ids[:n_train], ids[n_train:]


def train_batches(model, opt, streams, ids, ks, state=None):
    crit = torch.nn.CrossEntropyLoss()
    v = model.fc.out_features
    for k in ks:
        x, y = streams.batch(ids, k)
        logits, state = model(x, state)
        state = detach(state)
        loss = crit(logits.reshape(-1, v), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    return state


@torch.no_grad()
def validate(model, val, b, s):
    vb = (len(val) - 1) // s
    b, s = (min(vb, b), s) if vb > 0 else (1, len(val) - 1)
    streams = Streams(len(val), b, s)
    crit = torch.nn.CrossEntropyLoss()
    state, total = None, 0.0
    for k in range(streams.batches()):
        x, y = streams.batch(val, k)
        logits, state = model(x, state)
        total += crit(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()
    return total / streams.batches()


@torch.no_grad()
def sample(model, length, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(1, 1, dtype=torch.long)
    state = None
    for _ in range(length):
        logits, state = model(x, state)
        p = torch.softmax(logits[0, 0], dim=-1)
        x = torch.multinomial(p, 1, generator=g).view(1, 1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["speed", "quality"], default="speed")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--sample-length", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=os.path.join(ROOT, "data", "tinyshakespeare.txt"))
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    chars, train, val = load(a.data)
    b, s = 32, 100
    model = CharLM(len(chars), 64, 256, 2, "lstm")
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    streams = Streams(len(train), b, s)
    out = {"threads": a.threads, "torch": torch.__version__}
    if a.mode == "speed":
        state = train_batches(model, opt, streams, train, range(2))
        t = time.perf_counter()
        train_batches(model, opt, streams, train, range(2, 2 + a.batches), state)
        out["train_chars_per_s"] = a.batches * b * s / (time.perf_counter() - t)
        model.eval()
        sample(model, 50, a.seed)
        t = time.perf_counter()
        sample(model, a.sample_length, a.seed)
        out["sample_chars_per_s"] = a.sample_length / (time.perf_counter() - t)
    else:
        t = time.perf_counter()
        losses = []
        for epoch in range(a.epochs):
            model.train()
            train_batches(model, opt, streams, train, range(streams.batches()))
            model.eval()
            losses.append(validate(model, val, b, s))
            print(f"epoch {epoch + 1}: val loss {losses[-1]:.4f} nats/char, {time.perf_counter() - t:.0f} s", flush=True)
        out["val_losses"] = losses
        out["best_val_loss"] = min(losses)
    if a.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k}: {v:.1f}" if isinstance(v, float) else f"{k}: {v}")


if __name__ == "__main__":
    main()
