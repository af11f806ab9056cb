#[cfg(any(feature = "csv", feature = "json", feature = "scan_lines"))]
pub mod chunk_data_fetch;
#[cfg(any(feature = "parquet", feature = "ipc"))]
pub mod pipeline_budget;
