//! GPU time of single dispatches from timestamp queries (wgpu's `TIMESTAMP_QUERY`): each run is
//! its own compute pass with a timestamp at its start and end, all runs in one submission.

use crate::gpu::{Dispatch, GpuContext};
use crate::{Error, Result};

/// Seconds of each of `runs` back-to-back executions of `dispatch`, measured on the GPU
/// (excluding submission and host overhead). Fails on an adapter without timestamp queries.
pub fn time_dispatch(ctx: &GpuContext, dispatch: &Dispatch, runs: usize) -> Result<Vec<f64>> {
    time_dispatches(ctx, std::slice::from_ref(dispatch), runs)
}

/// [`time_dispatch`] for a sequence (a cell run's steps): each run is one pass of all of
/// `dispatches` in order, timed as a whole.
pub fn time_dispatches(ctx: &GpuContext, dispatches: &[Dispatch], runs: usize) -> Result<Vec<f64>> {
    if !ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
        return Err(Error::InvalidArgument {
            op: "timer",
            message: format!("adapter {} has no timestamp queries", ctx.adapter.name),
        });
    }
    let count = u32::try_from(2 * runs).expect("run count fits a query set");
    let queries = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
        label: Some("gpu-rnn timer"),
        ty: wgpu::QueryType::Timestamp,
        count,
    });
    let bytes = u64::from(count) * 8;
    let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("gpu-rnn timer resolve"),
        size: bytes,
        usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("gpu-rnn timer staging"),
        size: bytes,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("gpu-rnn timer"),
        });
    for run in 0..count / 2 {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: dispatches.first().map(|d| d.label),
            timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                query_set: &queries,
                beginning_of_pass_write_index: Some(2 * run),
                end_of_pass_write_index: Some(2 * run + 1),
            }),
        });
        for d in dispatches {
            d.encode(&mut pass);
        }
    }
    encoder.resolve_query_set(&queries, 0..count, &resolve, 0);
    encoder.copy_buffer_to_buffer(&resolve, 0, &staging, 0, bytes);
    ctx.queue.submit([encoder.finish()]);
    let ticks: Vec<u64> = ctx.read_mapped(&staging, "timestamp queries")?;
    let ns_per_tick = f64::from(ctx.queue.get_timestamp_period());
    Ok(ticks
        .chunks_exact(2)
        .map(|p| p[1].saturating_sub(p[0]) as f64 * ns_per_tick * 1e-9)
        .collect())
}
