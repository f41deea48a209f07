//! Command recording: many dispatches into one compute pass, submitted once.

use crate::gpu::GpuContext;

/// Records dispatches into one command encoder (one compute pass) and counts them.
///
/// wgpu inserts the barriers between dispatches that read what an earlier one wrote, so ops
/// are simply recorded in order.
pub struct Recorder<'c> {
    ctx: &'c GpuContext,
    // Field order matters: the pass must be dropped (ended) before the encoder is finished.
    pass: Option<wgpu::ComputePass<'static>>,
    encoder: Option<wgpu::CommandEncoder>,
    dispatches: usize,
}

impl<'c> Recorder<'c> {
    /// An empty recorder on a new command encoder labelled `label`; the pass begins with the
    /// first dispatch.
    pub fn new(ctx: &'c GpuContext, label: &str) -> Self {
        let encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        Self {
            ctx,
            pass: None,
            encoder: Some(encoder),
            dispatches: 0,
        }
    }

    /// The pass to encode one more dispatch into (counted).
    pub(crate) fn next_pass(&mut self) -> &mut wgpu::ComputePass<'static> {
        self.dispatches += 1;
        self.pass.get_or_insert_with(|| {
            self.encoder
                .as_mut()
                .expect("recorder already finished")
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("gpu-rnn"),
                    timestamp_writes: None,
                })
                .forget_lifetime()
        })
    }

    /// Dispatches recorded so far.
    pub fn dispatches(&self) -> usize {
        self.dispatches
    }

    /// End the pass and return the command buffer.
    pub fn finish(mut self) -> wgpu::CommandBuffer {
        self.pass = None;
        self.encoder
            .take()
            .expect("recorder already finished")
            .finish()
    }

    /// Finish and submit in one call.
    pub fn submit(self) -> wgpu::SubmissionIndex {
        let ctx = self.ctx;
        ctx.queue.submit([self.finish()])
    }
}
