//! Adapter choice, device creation with the adapter's own limits, and the pipeline cache.

use std::collections::HashMap;
use std::sync::Mutex;

use wgpu::util::DeviceExt;

use crate::shaders::Shader;
use crate::{Error, Result};

/// Environment variable that picks an adapter by a substring of its name (like `--adapter`).
pub const ADAPTER_ENV: &str = "GPU_RNN_ADAPTER";

/// What a user needs to know about an adapter.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    /// The adapter's name as wgpu reports it (what `--adapter` and [`ADAPTER_ENV`] match).
    pub name: String,
    /// The wgpu backend it runs on (Vulkan, Metal, DX12, GL).
    pub backend: wgpu::Backend,
    /// Discrete, integrated, virtual or CPU adapter.
    pub device_type: wgpu::DeviceType,
    /// Driver name and driver info; empty when the adapter reports neither.
    pub driver: String,
    /// The range of subgroup sizes (invocations) the adapter may use; `(0, 0)` without
    /// subgroup support.
    pub subgroup_sizes: (u32, u32),
}

impl AdapterSummary {
    fn new(info: &wgpu::AdapterInfo) -> Self {
        Self {
            name: info.name.clone(),
            backend: info.backend,
            device_type: info.device_type,
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string(),
            subgroup_sizes: (info.subgroup_min_size, info.subgroup_max_size),
        }
    }
}

impl std::fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({:?}, {:?}",
            self.name, self.backend, self.device_type
        )?;
        if !self.driver.is_empty() {
            write!(f, ", {}", self.driver)?;
        }
        write!(f, ")")
    }
}

/// Key of one compiled pipeline: shader, entry point and its `override` constants.
type PipelineKey = (&'static str, &'static str, Vec<(&'static str, u64)>);

/// A device and queue on the chosen adapter, its limits, and the pipelines built so far.
pub struct GpuContext {
    /// The logical device, created with the adapter's own limits.
    pub device: wgpu::Device,
    /// The device's queue, where recorded command buffers are submitted.
    pub queue: wgpu::Queue,
    /// The chosen adapter: name, backend, type, driver and subgroup sizes.
    pub adapter: AdapterSummary,
    /// The adapter's own limits, which the device was created with (not wgpu's defaults).
    pub limits: wgpu::Limits,
    /// Optional features enabled on the device: TIMESTAMP_QUERY and SUBGROUP where the
    /// adapter has them.
    pub features: wgpu::Features,
    modules: Mutex<HashMap<&'static str, wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<PipelineKey, wgpu::ComputePipeline>>,
}

/// Higher is better: discrete before integrated before virtual before CPU adapters.
fn rank(device_type: wgpu::DeviceType) -> u8 {
    match device_type {
        wgpu::DeviceType::DiscreteGpu => 4,
        wgpu::DeviceType::IntegratedGpu => 3,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 1,
        wgpu::DeviceType::Other => 0,
    }
}

/// The backend names `WGPU_BACKEND` may list, comma-separated (wgpu's own spellings).
const BACKEND_NAMES: [(&str, wgpu::Backends); 10] = [
    ("vulkan", wgpu::Backends::VULKAN),
    ("vk", wgpu::Backends::VULKAN),
    ("dx12", wgpu::Backends::DX12),
    ("d3d12", wgpu::Backends::DX12),
    ("metal", wgpu::Backends::METAL),
    ("mtl", wgpu::Backends::METAL),
    ("opengl", wgpu::Backends::GL),
    ("gles", wgpu::Backends::GL),
    ("gl", wgpu::Backends::GL),
    ("webgpu", wgpu::Backends::BROWSER_WEBGPU),
];

/// Vulkan, Metal, DX12 (and WebGPU in a browser), or what the `WGPU_BACKEND` variable lists.
/// A name wgpu does not know is an error naming the variable, not a silent "no adapter".
pub fn default_backends() -> Result<wgpu::Backends> {
    let Ok(list) = std::env::var("WGPU_BACKEND") else {
        return Ok(wgpu::Backends::PRIMARY);
    };
    let mut backends = wgpu::Backends::empty();
    for name in list.split(',').map(|n| n.trim().to_lowercase()) {
        match BACKEND_NAMES.iter().find(|(n, _)| *n == name) {
            Some(&(_, b)) => backends |= b,
            None => {
                return Err(Error::InvalidArgument {
                    op: "WGPU_BACKEND",
                    message: format!(
                        "{list:?} names {name:?}, which is not a wgpu backend; expected a \
                         comma-separated list of vulkan, metal, dx12, gl or webgpu"
                    ),
                });
            }
        }
    }
    Ok(backends)
}

/// Keep the Vulkan loader's and Mesa's `XDG_RUNTIME_DIR is invalid or not set` lines from
/// the user: where the variable is unset or names no folder, point it at a private folder
/// of this user's (`$TMPDIR/gpu-rnn-runtime-UID`, mode 0700), which is all they look for.
///
/// # Safety
/// It sets an environment variable: call it before any other thread starts, as the first
/// thing in `main`.
pub unsafe fn quiet_loader() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_dir()) {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        let dir = std::env::temp_dir().join(format!("gpu-rnn-runtime-{uid}"));
        let made = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        if made.is_ok() || dir.is_dir() {
            // SAFETY: the caller guarantees no other thread runs yet.
            unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
        }
    }
}

fn enumerate(backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    let mut adapters = pollster::block_on(wgpu::Instance::new(desc).enumerate_adapters(backends));
    adapters.sort_by_key(|a| std::cmp::Reverse(rank(a.get_info().device_type)));
    adapters
}

impl GpuContext {
    /// Every adapter wgpu can see, best first.
    pub fn adapters() -> Result<Vec<AdapterSummary>> {
        Ok(enumerate(default_backends()?)
            .iter()
            .map(|a| AdapterSummary::new(&a.get_info()))
            .collect())
    }

    /// Open the best adapter, or the first whose name contains `wanted` (case-insensitive).
    /// `wanted = None` falls back to the `GPU_RNN_ADAPTER` environment variable.
    pub fn new(wanted: Option<&str>) -> Result<Self> {
        Self::with_backends(wanted, default_backends()?)
    }

    /// As [`GpuContext::new`], searching only `backends`.
    pub fn with_backends(wanted: Option<&str>, backends: wgpu::Backends) -> Result<Self> {
        let env = std::env::var(ADAPTER_ENV).ok().filter(|s| !s.is_empty());
        let wanted = wanted.map(str::to_string).or(env);
        let mut adapters = enumerate(backends);
        if adapters.is_empty() {
            return Err(Error::NoAdapter);
        }
        let adapter = match &wanted {
            None => adapters.swap_remove(0),
            Some(w) => {
                let lw = w.to_lowercase();
                let pos = adapters
                    .iter()
                    .position(|a| a.get_info().name.to_lowercase().contains(&lw));
                match pos {
                    Some(i) => adapters.swap_remove(i),
                    None => {
                        return Err(Error::AdapterNotFound {
                            wanted: w.clone(),
                            available: adapters.iter().map(|a| a.get_info().name).collect(),
                        });
                    }
                }
            }
        };
        let summary = AdapterSummary::new(&adapter.get_info());
        // The adapter's own limits (storage buffer sizes etc.), not wgpu's small defaults.
        let limits = adapter.limits();
        let features =
            adapter.features() & (wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SUBGROUP);
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("gpu-rnn"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| Error::RequestDevice {
            adapter: summary.name.clone(),
            message: e.to_string(),
        })?;
        Ok(Self {
            device,
            queue,
            adapter: summary,
            limits,
            features,
            modules: Mutex::new(HashMap::new()),
            pipelines: Mutex::new(HashMap::new()),
        })
    }

    /// The compute pipeline for `shader`'s `entry` with the given `override` constants, built
    /// on first use and cached. WGSL and pipeline errors come back as [`Error::Shader`].
    pub fn pipeline(
        &self,
        shader: &'static Shader,
        entry: &'static str,
        constants: &[(&'static str, f64)],
    ) -> Result<wgpu::ComputePipeline> {
        let key: PipelineKey = (
            shader.name,
            entry,
            constants.iter().map(|&(k, v)| (k, v.to_bits())).collect(),
        );
        let mut pipelines = self.pipelines.lock().expect("pipeline cache poisoned");
        if let Some(p) = pipelines.get(&key) {
            return Ok(p.clone());
        }
        let module = self.module(shader)?;
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let label = format!("{}:{entry}", shader.name);
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(&label),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants,
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Shader {
                name: label,
                message: e.to_string(),
            });
        }
        pipelines.insert(key, pipeline.clone());
        Ok(pipeline)
    }

    fn module(&self, shader: &'static Shader) -> Result<wgpu::ShaderModule> {
        let mut modules = self.modules.lock().expect("module cache poisoned");
        if let Some(m) = modules.get(shader.name) {
            return Ok(m.clone());
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(shader.name),
                source: wgpu::ShaderSource::Wgsl(shader.source.into()),
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Shader {
                name: shader.name.to_string(),
                message: e.to_string(),
            });
        }
        modules.insert(shader.name, module.clone());
        Ok(module)
    }

    /// A uniform buffer holding `value` (a `#[repr(C)]` mirror of a WGSL struct).
    pub fn uniform<T: bytemuck::Pod>(&self, label: &str, value: &T) -> wgpu::Buffer {
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::bytes_of(value),
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            })
    }

    /// A bind group for group 0 of `pipeline`: each `(binding, buffer)` bound whole.
    pub fn bind_group(
        &self,
        label: &str,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[(u32, &wgpu::Buffer)],
    ) -> wgpu::BindGroup {
        let entries: Vec<_> = buffers
            .iter()
            .map(|&(binding, b)| wgpu::BindGroupEntry {
                binding,
                resource: b.as_entire_binding(),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        })
    }

    /// The contents of a `MAP_READ` buffer whose copy has been submitted: waits, maps, casts
    /// and unmaps. `what` names the data in errors.
    pub(crate) fn read_mapped<T: bytemuck::Pod>(
        &self,
        staging: &wgpu::Buffer,
        what: &str,
    ) -> Result<Vec<T>> {
        let err = |message: String| Error::Readback {
            tensor: what.to_string(),
            message,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.wait()?;
        rx.recv()
            .map_err(|e| err(e.to_string()))?
            .map_err(|e| err(e.to_string()))?;
        let out = {
            let view = staging
                .slice(..)
                .get_mapped_range()
                .map_err(|e| err(e.to_string()))?;
            bytemuck::cast_slice::<u8, T>(&view).to_vec()
        };
        staging.unmap();
        Ok(out)
    }

    /// Block until all submitted work is done.
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| Error::Readback {
                tensor: "(device poll)".into(),
                message: e.to_string(),
            })
    }
}
