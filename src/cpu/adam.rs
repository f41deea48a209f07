//! One torch.optim.Adam (or AdamW) step over a flat parameter buffer. GPU:
//! shaders/adam.wgsl.

/// `torch.optim.Adam` hyper-parameters (amsgrad and maximize off), or `torch.optim.AdamW`'s
/// with `decoupled`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the running average of the gradient (`exp_avg`, the first moment).
    pub beta1: f64,
    /// Decay of the running average of its square (`exp_avg_sq`, the second moment).
    pub beta2: f64,
    /// Added to the denominator, outside the sqrt (as torch).
    pub eps: f64,
    /// Adam: an L2 penalty added to the gradient. AdamW (`decoupled`): θ ← θ·(1 − lr·wd)
    /// before the update.
    pub weight_decay: f64,
    /// AdamW's decoupled weight decay.
    pub decoupled: bool,
}

impl Default for AdamConfig {
    /// torch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
        }
    }
}

impl AdamConfig {
    /// `torch.optim.AdamW(lr=lr)`: PyTorch's defaults, weight_decay 0.01.
    pub fn adamw(lr: f64) -> Self {
        Self {
            lr,
            weight_decay: 0.01,
            decoupled: true,
            ..Self::default()
        }
    }

    /// `[step_size, bc2_sqrt, decay]` for step `t` (1-based), in f64 as torch computes them:
    /// what the Adam kernel reads from its `sched` buffer. `decay` is AdamW's 1 − lr·wd, 1
    /// for Adam.
    pub fn schedule(&self, t: u64) -> [f32; 3] {
        let bc1 = 1.0 - self.beta1.powf(t as f64);
        let bc2 = 1.0 - self.beta2.powf(t as f64);
        let decay = if self.decoupled {
            1.0 - self.lr * self.weight_decay
        } else {
            1.0
        };
        [(self.lr / bc1) as f32, bc2.sqrt() as f32, decay as f32]
    }
}

/// Update `params`, `m` and `v` (all (P)) from `grads · grad_scale`, with `sched` =
/// `cfg.schedule(t)` for step t. `grad_scale` is the clip coefficient from
/// `grad_norm::clip_coef`, or 1.
pub fn adam(
    params: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    grads: &[f32],
    grad_scale: f32,
    sched: [f32; 3],
    cfg: &AdamConfig,
) {
    assert!(
        m.len() == params.len() && v.len() == params.len() && grads.len() == params.len(),
        "adam: params, grads, m and v must all be (P)"
    );
    let [step_size, bc2_sqrt, decay] = sched;
    let (b1, b2) = (cfg.beta1 as f32, cfg.beta2 as f32);
    let eps = cfg.eps as f32;
    // AdamW decays the weight itself; Adam adds the penalty to the gradient.
    let l2 = if cfg.decoupled {
        0.0
    } else {
        cfg.weight_decay as f32
    };
    for i in 0..params.len() {
        let theta = params[i] * decay;
        let g = grads[i] * grad_scale + l2 * params[i];
        let mi = m[i] + (1.0 - b1) * (g - m[i]);
        let vi = b2 * v[i] + (1.0 - b2) * g * g;
        m[i] = mi;
        v[i] = vi;
        params[i] = theta - step_size * (mi / (vi.sqrt() / bc2_sqrt + eps));
    }
}
