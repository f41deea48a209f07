//! One torch.optim.SGD step (momentum, dampening, Nesterov, L2 weight decay) over a flat
//! parameter buffer. GPU: shaders/sgd.wgsl.

/// `torch.optim.SGD` hyper-parameters (maximize off).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor; 0 is plain SGD, without a momentum buffer.
    pub momentum: f64,
    /// Dampening of the momentum: buf = momentum·buf + (1 − dampening)·g.
    pub dampening: f64,
    /// An L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Nesterov momentum (needs momentum > 0 and dampening 0, as torch checks).
    pub nesterov: bool,
}

impl SgdConfig {
    /// `torch.optim.SGD(lr=lr)`: plain gradient descent.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }

    /// `[lr, first]` for step `t` (1-based): what the SGD kernel reads from its `sched`
    /// buffer. On the first step (`first` = 1) the momentum buffer starts as the gradient
    /// itself, as torch's does, not as a dampened one.
    pub fn schedule(&self, t: u64) -> [f32; 2] {
        [self.lr as f32, if t == 1 { 1.0 } else { 0.0 }]
    }
}

/// Update `params` and the momentum buffer `buf` (both (P)) from `grads · grad_scale`, with
/// `sched` = `cfg.schedule(t)` for step t:
/// `g += wd·θ; buf = first ? g : momentum·buf + (1 − dampening)·g;
/// g = nesterov ? g + momentum·buf : buf; θ −= lr·g` (without momentum, `θ −= lr·g`).
pub fn sgd(
    params: &mut [f32],
    buf: &mut [f32],
    grads: &[f32],
    grad_scale: f32,
    sched: [f32; 2],
    cfg: &SgdConfig,
) {
    assert!(
        buf.len() == params.len() && grads.len() == params.len(),
        "sgd: params, grads and buf must all be (P)"
    );
    let [lr, first] = sched;
    let (mu, damp, wd) = (
        cfg.momentum as f32,
        cfg.dampening as f32,
        cfg.weight_decay as f32,
    );
    for i in 0..params.len() {
        let mut g = grads[i] * grad_scale + wd * params[i];
        if mu != 0.0 {
            let b = if first != 0.0 {
                g
            } else {
                mu * buf[i] + (1.0 - damp) * g
            };
            buf[i] = b;
            g = if cfg.nesterov { g + mu * b } else { b };
        }
        params[i] -= lr * g;
    }
}
