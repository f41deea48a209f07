//! [`Dispatch`]: one kernel launch, built once and recorded as often as needed.

use crate::gpu::{GpuContext, Recorder};

/// One recorded-to-be kernel launch: everything bound, nothing left to decide.
pub struct Dispatch {
    /// The op's name: the label of its uniform and bind group, and what the timer reports.
    pub label: &'static str,
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    groups: [u32; 3],
}

impl Dispatch {
    /// Build the bind group for `pipeline`: binding 0 is a uniform holding `params`, then the
    /// given `(binding, buffer)` pairs.
    pub(crate) fn new<T: bytemuck::Pod>(
        ctx: &GpuContext,
        label: &'static str,
        pipeline: wgpu::ComputePipeline,
        params: &T,
        buffers: &[(u32, &wgpu::Buffer)],
        groups: [u32; 3],
    ) -> Self {
        let uniform = ctx.uniform(label, params);
        let mut all = vec![(0, &uniform)];
        all.extend_from_slice(buffers);
        let bind_group = ctx.bind_group(label, &pipeline, &all);
        Self {
            label,
            pipeline,
            bind_group,
            groups,
        }
    }

    /// Append the launch to `rec`'s compute pass (counted).
    pub fn record(&self, rec: &mut Recorder) {
        self.encode(rec.next_pass());
    }

    /// Encode into a pass: the recorder's, or one of the timer's timestamped passes.
    pub(crate) fn encode(&self, pass: &mut wgpu::ComputePass) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.groups[0], self.groups[1], self.groups[2]);
    }
}
