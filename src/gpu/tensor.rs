//! Tensors in GPU storage buffers: allocation within the adapter's limits, upload, readback,
//! and [`Slice`], an element range of a tensor that ops take as an operand.

use crate::gpu::GpuContext;
use crate::{Error, Result};

/// A storage buffer of 4-byte elements (f32, u32 or i32) with a shape and a name.
pub struct GpuTensor {
    /// The storage buffer: [`GpuTensor::bytes_for`] of the length, in whole vec4s.
    pub buffer: wgpu::Buffer,
    /// Shape in elements; its product is [`GpuTensor::len`].
    pub shape: Vec<usize>,
    /// Name of the wgpu buffer, used in error messages too.
    pub label: String,
}

/// Elements `offset .. offset + len` of a tensor.
#[derive(Clone, Copy)]
pub struct Slice<'a> {
    /// The tensor viewed.
    pub tensor: &'a GpuTensor,
    /// First element of the view, counted from the start of the tensor's buffer.
    pub offset: usize,
    /// Elements in the view.
    pub len: usize,
}

impl<'a> Slice<'a> {
    /// The tensor's storage buffer, what a dispatch binds (the offset goes in its uniform).
    pub fn buffer(&self) -> &'a wgpu::Buffer {
        &self.tensor.buffer
    }
}

const ELEM: u64 = 4;

impl GpuTensor {
    /// Bytes of a tensor of `len` elements: at least one element (wgpu rejects empty
    /// bindings), rounded up to whole vec4s so any tensor can also be bound as
    /// `array<vec4<f32>>`.
    pub fn bytes_for(len: usize) -> u64 {
        (len.max(1).next_multiple_of(4) as u64) * ELEM
    }

    /// Fail with [`Error::Limit`], naming the tensor, unless `len` elements fit one buffer
    /// binding on this adapter.
    pub fn check_fits(ctx: &GpuContext, label: &str, len: usize) -> Result<u64> {
        let bytes = Self::bytes_for(len);
        for (limit, limit_name) in [
            (
                ctx.limits.max_storage_buffer_binding_size,
                "max_storage_buffer_binding_size",
            ),
            (ctx.limits.max_buffer_size, "max_buffer_size"),
        ] {
            if bytes > limit {
                return Err(Error::Limit {
                    tensor: label.to_string(),
                    bytes,
                    limit,
                    limit_name,
                });
            }
        }
        Ok(bytes)
    }

    /// An uninitialised tensor (contents unspecified until written).
    pub fn empty(ctx: &GpuContext, label: &str, shape: &[usize]) -> Result<Self> {
        let bytes = Self::check_fits(ctx, label, shape.iter().product())?;
        let buffer = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(Self {
            buffer,
            shape: shape.to_vec(),
            label: label.to_string(),
        })
    }

    /// A tensor holding `data` (f32, u32 or i32); `data.len()` must equal the shape's product.
    pub fn from_slice<T: bytemuck::Pod>(
        ctx: &GpuContext,
        label: &str,
        shape: &[usize],
        data: &[T],
    ) -> Result<Self> {
        let t = Self::empty(ctx, label, shape)?;
        t.write(ctx, data)?;
        Ok(t)
    }

    /// A tensor of zeros.
    pub fn zeros(ctx: &GpuContext, label: &str, shape: &[usize]) -> Result<Self> {
        let len: usize = shape.iter().product();
        Self::from_slice(ctx, label, shape, &vec![0f32; len])
    }

    /// Elements: the product of the shape.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the shape has a dimension of 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole tensor as a slice.
    pub fn all(&self) -> Slice<'_> {
        Slice {
            tensor: self,
            offset: 0,
            len: self.len(),
        }
    }

    /// Elements `offset .. offset + len`, checked against the tensor's length.
    pub fn slice(&self, offset: usize, len: usize) -> Result<Slice<'_>> {
        if offset + len > self.len() {
            return Err(Error::Shape {
                op: "slice",
                expected: format!("at most {} elements in {}", self.len(), self.label),
                got: format!("{offset}..{}", offset + len),
            });
        }
        Ok(Slice {
            tensor: self,
            offset,
            len,
        })
    }

    /// Overwrite the whole tensor with `data` (queued; ordered before the next submit).
    pub fn write<T: bytemuck::Pod>(&self, ctx: &GpuContext, data: &[T]) -> Result<()> {
        if data.len() != self.len() {
            return Err(Error::Shape {
                op: "write",
                expected: format!(
                    "{} elements for {} {:?}",
                    self.len(),
                    self.label,
                    self.shape
                ),
                got: format!("{}", data.len()),
            });
        }
        self.write_at(ctx, 0, data)
    }

    /// Overwrite elements `offset .. offset + data.len()` (queued; ordered before the next
    /// submit).
    pub fn write_at<T: bytemuck::Pod>(
        &self,
        ctx: &GpuContext,
        offset: usize,
        data: &[T],
    ) -> Result<()> {
        self.check_elem::<T>()?;
        self.slice(offset, data.len())?;
        if !data.is_empty() {
            ctx.queue.write_buffer(
                &self.buffer,
                offset as u64 * ELEM,
                bytemuck::cast_slice(data),
            );
        }
        Ok(())
    }

    /// Copy the tensor back to the host (submits and waits).
    pub fn read<T: bytemuck::Pod>(&self, ctx: &GpuContext) -> Result<Vec<T>> {
        self.read_range(ctx, 0, self.len())
    }

    /// Copy elements `offset .. offset + len` back to the host (submits and waits).
    pub fn read_range<T: bytemuck::Pod>(
        &self,
        ctx: &GpuContext,
        offset: usize,
        len: usize,
    ) -> Result<Vec<T>> {
        self.check_elem::<T>()?;
        self.slice(offset, len)?;
        if len == 0 {
            return Ok(Vec::new());
        }
        let bytes = len as u64 * ELEM;
        let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("readback"),
            });
        encoder.copy_buffer_to_buffer(&self.buffer, offset as u64 * ELEM, &staging, 0, bytes);
        ctx.queue.submit([encoder.finish()]);
        ctx.read_mapped(&staging, &self.label)
    }

    fn check_elem<T>(&self) -> Result<()> {
        if std::mem::size_of::<T>() as u64 != ELEM {
            return Err(Error::InvalidArgument {
                op: "tensor",
                message: format!("{} holds 4-byte elements", self.label),
            });
        }
        Ok(())
    }
}
