use std::num::NonZeroUsize;

use polars_core::schema::SchemaRef;
use polars_io::utils::bytes_bufferer::BytesBuffererConfig;
use polars_plan::dsl::file_provider::FileProviderType;
use polars_plan::dsl::{FileWriteFormat, SinkTarget, UnifiedSinkArgs};
use polars_utils::pl_path::{CloudScheme, PlRefPath};
use polars_utils::sys::total_memory;

use crate::nodes::io_sinks::components::hstack_columns::HStackColumns;
use crate::nodes::io_sinks::components::partitioner::Partitioner;
use crate::nodes::io_sinks::components::size::NonZeroRowCountAndSize;

const DEFAULT_UPLOAD_CHUNK_SIZE: NonZeroUsize = NonZeroUsize::new(32 * 1024 * 1024).unwrap();
const DEFAULT_PARTITIONED_UPLOAD_CHUNK_SIZE: NonZeroUsize =
    NonZeroUsize::new(6 * 1024 * 1024).unwrap();

pub struct IOSinkNodeConfig {
    pub file_format: FileWriteFormat,
    pub target: IOSinkTarget,
    pub unified_sink_args: UnifiedSinkArgs,
    pub input_schema: SchemaRef,
}

impl IOSinkNodeConfig {
    pub fn num_pipelines_per_sink(&self, num_pipelines: NonZeroUsize) -> NonZeroUsize {
        NonZeroUsize::min(num_pipelines, self.inflight_morsel_limit(num_pipelines))
    }

    pub fn inflight_morsel_limit(&self, num_pipelines: NonZeroUsize) -> NonZeroUsize {
        if let Ok(v) = std::env::var("POLARS_INFLIGHT_SINK_MORSEL_LIMIT").map(|x| {
            x.parse::<NonZeroUsize>().unwrap_or_else(|_| {
                panic!("invalid value for POLARS_INFLIGHT_SINK_MORSEL_LIMIT: {x}")
            })
        }) {
            return v;
        };

        NonZeroUsize::saturating_add(
            num_pipelines,
            // Additional buffer to accommodate head-of-line blocking
            4,
        )
    }

    pub fn max_open_sinks(&self) -> NonZeroUsize {
        if let Ok(v) = std::env::var("POLARS_MAX_OPEN_SINKS").map(|x| {
            x.parse::<NonZeroUsize>()
                .unwrap_or_else(|_| panic!("invalid value for POLARS_MAX_OPEN_SINKS: {x}"))
        }) {
            return v;
        }

        if self.target.is_cloud_location() {
            const { NonZeroUsize::new(512).unwrap() }
        } else {
            const { NonZeroUsize::new(128).unwrap() }
        }
    }

    pub fn cloud_upload_chunk_size(&self) -> Option<NonZeroUsize> {
        // Only when `is_cloud_location() == true`. This excludes FORCE_ASYNC'ed local paths,
        // to avoid unnecessary memory copying.
        polars_io::configs::env_upload_chunk_size().or((self.target.is_cloud_location()
            || self.file_write_format_requires_buffering())
        .then_some(DEFAULT_UPLOAD_CHUNK_SIZE))
    }

    pub fn partitioned_upload_chunk_size(&self) -> Option<NonZeroUsize> {
        polars_io::configs::env_partitioned_upload_chunk_size().or((self
            .target
            .is_cloud_location()
            || self.file_write_format_requires_buffering())
        .then_some(DEFAULT_PARTITIONED_UPLOAD_CHUNK_SIZE))
    }

    fn file_write_format_requires_buffering(&self) -> bool {
        match &self.file_format {
            #[cfg(feature = "parquet")]
            FileWriteFormat::Parquet(_) => true,
            _ => false,
        }
    }

    pub fn upload_concurrency(&self) -> NonZeroUsize {
        polars_io::configs::env_upload_concurrency().unwrap_or_else(|| {
            let buffer_limit: usize = (total_memory() / 32) as _;

            NonZeroUsize::new(usize::clamp(
                buffer_limit
                    / self
                        .cloud_upload_chunk_size()
                        .unwrap_or(DEFAULT_UPLOAD_CHUNK_SIZE),
                8,
                256,
            ))
            .unwrap()
        })
    }

    pub fn partitioned_upload_concurrency(&self) -> NonZeroUsize {
        polars_io::configs::env_partitioned_upload_concurrency()
            .unwrap_or(const { NonZeroUsize::new(64).unwrap() })
    }

    pub fn bytes_bufferer_config(&self) -> BytesBuffererConfig {
        if let Ok(v) = std::env::var("POLARS_IO_SINK_BYTES_BUFFERER_CONFIG") {
            (|| {
                let mut iter = v.split(',').map(|x| x.parse::<NonZeroUsize>().ok());
                let mut n = || iter.next().flatten();

                let ret = BytesBuffererConfig {
                    target_size: n()?..=n()?,
                    copy_buffer_reserve_size: n()?..=n()?,
                };

                let valid = ret.target_size.end() >= ret.target_size.start()
                    && ret.copy_buffer_reserve_size.end() >= ret.copy_buffer_reserve_size.start();

                (valid && iter.next().is_none()).then_some(ret)
            })()
            .unwrap_or_else(|| {
                panic!("invalid value for POLARS_IO_SINK_BYTES_BUFFERER_CONFIG: {v}")
            })
        } else if self.target.is_cloud_location() {
            let cloud_upload_chunk_size = self
                .cloud_upload_chunk_size()
                .unwrap_or(DEFAULT_UPLOAD_CHUNK_SIZE);

            BytesBuffererConfig {
                target_size: cloud_upload_chunk_size..=cloud_upload_chunk_size,
                copy_buffer_reserve_size: cloud_upload_chunk_size
                    .div_ceil(const { NonZeroUsize::new(8).unwrap() })
                    ..=cloud_upload_chunk_size,
            }
        } else {
            const {
                BytesBuffererConfig {
                    target_size: NonZeroUsize::new(8192).unwrap()..=NonZeroUsize::MAX,
                    copy_buffer_reserve_size: NonZeroUsize::new(8192).unwrap()..=NonZeroUsize::MAX,
                }
            }
        }
    }
}

pub enum IOSinkTarget {
    File(SinkTarget),
    Partitioned(Box<PartitionedTarget>),
}

impl IOSinkTarget {
    pub fn is_cloud_location(&self) -> bool {
        match self {
            Self::File(v) => v.cloud_scheme(),
            Self::Partitioned(v) => v.base_path.scheme(),
        }
        .is_some_and(|x| !matches!(x, CloudScheme::File | CloudScheme::FileNoHostname))
    }
}

pub struct PartitionedTarget {
    pub base_path: PlRefPath,
    pub file_path_provider: FileProviderType,
    pub partitioner: Partitioner,
    /// How to hstack the keys back into the dataframe (with_columns)
    pub hstack_keys: Option<HStackColumns>,
    pub include_keys_in_file: bool,
    pub file_schema: SchemaRef,
    pub file_size_limit: Option<NonZeroRowCountAndSize>,
}
