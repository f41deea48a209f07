//! Fused softmax + cross-entropy (torch.nn.CrossEntropyLoss, ignore_index = -1).
//! GPU: shaders/cross_entropy.wgsl.

/// How the per-row losses combine, as `CrossEntropyLoss(reduction=…)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    /// Mean over rows whose target is not ignored (0 when every row is ignored).
    Mean = 0,
    /// Sum over rows whose target is not ignored.
    Sum = 1,
}

/// Loss of `logits (N, C)` against `targets (N)` (−1 = ignore), and `dlogits (N, C)` =
/// d loss / d logits. Max-subtracted log-sum-exp in f64.
pub fn cross_entropy(
    dlogits: &mut [f32],
    logits: &[f32],
    targets: &[i32],
    c: usize,
    reduction: Reduction,
) -> f32 {
    assert_eq!(
        logits.len(),
        targets.len() * c,
        "cross_entropy: logits must be (N, C)"
    );
    assert_eq!(
        dlogits.len(),
        logits.len(),
        "cross_entropy: dlogits must be (N, C)"
    );
    let count = targets.iter().filter(|&&t| t >= 0).count();
    let scale = match reduction {
        Reduction::Mean => 1.0 / count.max(1) as f64,
        Reduction::Sum => 1.0,
    };
    let mut total = 0f64;
    for ((row, drow), &t) in logits
        .chunks_exact(c)
        .zip(dlogits.chunks_exact_mut(c))
        .zip(targets)
    {
        if t < 0 {
            drow.fill(0.0);
            continue;
        }
        let t = t as usize;
        assert!(t < c, "cross_entropy: target {t} outside {c} classes");
        let mx = row.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
        let sum: f64 = row.iter().map(|&x| (x as f64 - mx).exp()).sum();
        total += mx + sum.ln() - row[t] as f64;
        for (j, (d, &x)) in drow.iter_mut().zip(row).enumerate() {
            let p = (x as f64 - mx).exp() / sum;
            let g = if j == t { p - 1.0 } else { p };
            *d = (g * scale) as f32;
        }
    }
    (total * scale) as f32
}
