//! Mean squared error and its gradient (torch.nn.MSELoss). GPU: shaders/mse.wgsl.

use crate::cpu::cross_entropy::Reduction;

/// Loss of `pred (N)` against `target (N)`, `scale · Σ (pred − target)²` with scale 1/N for
/// the mean (0 for N = 0) and 1 for the sum, and `dpred (N)` = d loss / d pred =
/// `2·(pred − target)·scale`. The sum in f64.
pub fn mse(dpred: &mut [f32], pred: &[f32], target: &[f32], reduction: Reduction) -> f32 {
    assert!(
        pred.len() == target.len() && dpred.len() == pred.len(),
        "mse: pred, target and dpred must all be (N)"
    );
    let scale = match reduction {
        Reduction::Mean => 1.0 / pred.len().max(1) as f32,
        Reduction::Sum => 1.0,
    };
    let mut total = 0f64;
    for ((d, &y), &t) in dpred.iter_mut().zip(pred).zip(target) {
        let e = y - t;
        total += f64::from(e) * f64::from(e);
        *d = 2.0 * e * scale;
    }
    (total * f64::from(scale)) as f32
}
